"""The embedded default (`make run`): wall time split by stage and peak memory, cold cache then warm cache.

    python -m bench.bench_default_run
Target: under 5 minutes and under 4 GB on a 2-core machine.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import table, write_result


def run_once(cache: Path, out: Path) -> dict:
    env = {**os.environ, "SGEN_CACHE_DIR": str(cache), "WANDB_MODE": "offline"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sgen", "progress=false", f"hydra.run.dir={out}"], env=env, check=True,
                   capture_output=True, text=True)
    wall = time.perf_counter() - t0
    metrics = json.loads((out / "metrics.json").read_text())
    return {"wall": wall, **metrics}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        runs = [("cold cache (GGUF conversion, seed-only training)", run_once(cache, Path(tmp) / "cold")),
                ("warm cache", run_once(cache, Path(tmp) / "warm"))]
    stages = ["load", "generate", "write", "train_seed_only", "train", "eval"]
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
    path = write_result("default_run", "Default run (`make run`)", "python -m bench.bench_default_run", body, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
