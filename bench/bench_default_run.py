"""The embedded default (`make run`): wall time split by stage and peak memory, cold cache then warm cache; with
--before REV, the same two runs of an earlier commit (a git worktree of it) first, side by side in one table.

    python -m bench.bench_default_run [--before b4031c5]
Target: under 2.5 minutes cold and under 4 GB on a 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import table, write_result


ROOT = Path(__file__).resolve().parents[1]


def run_once(cache: Path, out: Path, source: Path = ROOT) -> dict:
    """`python -m sgen` of the checkout at `source` (its own sgen package and conf/), as `make run` calls it."""
    env = {**os.environ, "SGEN_CACHE_DIR": str(cache), "WANDB_MODE": "offline", "PYTHONPATH": str(source)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sgen", "progress=false", f"hydra.run.dir={out}"], env=env,
                          capture_output=True, text=True, cwd=source)
    if proc.returncode != 0:
        raise RuntimeError(f"python -m sgen in {source} failed:\n{proc.stderr[-3000:]}")
    wall = time.perf_counter() - t0
    metrics = json.loads((out / "metrics.json").read_text())
    return {"wall": wall, **metrics}


def cold_and_warm(tmp: Path, label: str, source: Path) -> list[tuple[str, dict]]:
    slug = "".join(c if c.isalnum() else "-" for c in label)  # a Hydra override value: no spaces or brackets
    cache = tmp / f"cache-{slug}"
    return [(f"{label}: cold cache (GGUF conversion, seed-only training)", run_once(cache, tmp / f"{slug}-cold",
                                                                                     source)),
            (f"{label}: warm cache", run_once(cache, tmp / f"{slug}-warm", source))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default=None, help="an earlier commit to run first, from a git worktree")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        runs = []
        if args.before:
            before = tmp / "before"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before), args.before],
                           check=True, capture_output=True)
            try:
                runs += cold_and_warm(tmp, f"before ({args.before})", before)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=True)
        runs += cold_and_warm(tmp, "now", ROOT)
    # Every stage metrics.json times, in the run's order where known (a stage added later gets a column too).
    known = ["load", "generate", "write", "audit", "train_seed_only", "train", "eval"]
    seen = {k for _, m in runs for k in m["seconds"]}
    stages = [k for k in known if k in seen] + sorted(seen - set(known))
    rows = []
    for name, m in runs:
        s = m["seconds"]
        rows.append([name, m["wall"], *[s.get(k, 0.0) for k in stages], m["peak_memory_mb"], m["accuracy"],
                     m["seed_only"]["accuracy"], m["queries_paid"]])
    body = table(["run", "wall s", *[f"{k} s" for k in stages], "peak RSS MB", "accuracy", "seed-only acc",
                  "queries paid"], rows)
    notes = ("Default: tweet_sentiment, seed 100, budget 300 queries, rephrase, SmolLM2-135M teacher, "
             "MiniLM-L6 student. Wall time includes interpreter start-up and imports; stage times come from "
             "metrics.json.")
    command = "python -m bench.bench_default_run" + (f" --before {args.before}" if args.before else "")
    path = write_result("default_run", "Default run (`make run`)", command, body, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
