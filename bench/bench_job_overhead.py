"""Per-job framework overhead of a multirun of tiny jobs: wall time outside teacher generation, student training
and evaluation (Hydra composition, config and task loading, model building, writing outputs, logging).

One `python -m sgen -m` sweep of tiny jobs on a fresh cache, read back with the sweep report's own loader:
    python -m bench.bench_job_overhead [--strategies new_answer,rephrase] [--budgets 20,40] [--seeds 0,1,2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import table, write_result

ROOT = Path(__file__).resolve().parents[1]
TINY = ["teacher=tiny", "student=tiny", "progress=false", "task.test_size=200", "task.unlabeled_size=2000"]
# What a job is for; everything else in its wall time is the framework's overhead.
WORK = ["seconds.generate", "seconds.train", "seconds.train_seed_only", "seconds.eval"]


def run_sweep(args: argparse.Namespace, sweep_dir: Path, env: dict[str, str]) -> tuple[list[str], float]:
    cmd = [sys.executable, "-m", "sgen", "-m", *TINY, f"strategy={args.strategies}",
           f"budget.queries={args.budgets}", f"seed={args.seeds}", f"hydra.sweep.dir={sweep_dir}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return cmd, time.perf_counter() - t0


def summarize_jobs(df) -> tuple[list[list], dict[str, float]]:
    ok = df[df["status"] == "ok"].copy()
    ok["work"] = ok[WORK].sum(axis=1)
    ok["overhead"] = ok["wall_seconds"] - ok["work"]
    stages = [c for c in ok.columns if c.startswith("seconds.")]
    ok["other"] = ok["wall_seconds"] - ok[stages].sum(axis=1)  # Hydra, imports, status/metrics writing, logging

    def row(name: str, part) -> list:
        return [name, len(part), part["wall_seconds"].mean(), part["work"].mean(), part["overhead"].mean(),
                part["seconds.load"].mean(), part["seconds.write"].mean(), part["other"].mean(),
                (part["overhead"] / part["wall_seconds"]).mean() * 100]

    first, rest = ok.iloc[:1], ok.iloc[1:]
    rows = [row("first job (imports, model build)", first)]
    if len(rest):
        rows.append(row("later jobs", rest))
    rows.append(row("all jobs", ok))
    stats = {"median_overhead": statistics.median(rest["overhead"] if len(rest) else ok["overhead"]),
             "jobs": len(ok), "failed": int((df["status"] != "ok").sum())}
    return rows, stats


def main(argv: list[str] | None = None) -> None:
    from sgen.report import load_sweep

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strategies", default="new_answer,rephrase")
    ap.add_argument("--budgets", default="20,40")
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args(argv if argv is not None else [])
    with tempfile.TemporaryDirectory(prefix="sgen-bench-overhead-") as tmp:
        env = {**os.environ, "SGEN_CACHE_DIR": str(Path(tmp) / "cache"), "WANDB_MODE": "offline",
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        cmd, sweep_seconds = run_sweep(args, Path(tmp) / "sweep", env)
        df = load_sweep(Path(tmp) / "sweep")
    rows, stats = summarize_jobs(df)
    n = stats["jobs"] + stats["failed"]
    in_jobs = df["wall_seconds"].sum()
    outside = (sweep_seconds - in_jobs) / n  # interpreter start, Hydra parsing, launcher, sweep bookkeeping
    headers = ["jobs", "n", "wall s", "generate+train+eval s", "overhead s", "of which load s", "write s",
               "other s", "overhead %"]
    body = (table(headers, rows) + "\n\n"
            f"Sweep wall time {sweep_seconds:.1f} s for {n} jobs ({stats['failed']} failed); outside the jobs "
            f"(Python start, imports, Hydra, launcher) {outside:.2f} s per job. Median overhead of a later job: "
            f"{stats['median_overhead']:.2f} s.")
    notes = ("Job wall time runs from Hydra writing the job's `.hydra/` to sgen writing `status.json`. `load` is "
             "reading the task's corpus and building the (tiny) models; `write` is the synthetic dataset (JSONL + "
             "Arrow); `other` is what no stage timer covers (Hydra job set-up, metrics and status files, "
             "logging). Tiny in-process models, so generation and training are short and the overhead share is "
             "the worst case.")
    shown = " ".join(c for c in cmd[1:] if not c.startswith("hydra.sweep.dir"))
    path = write_result("job_overhead", "Per-job overhead of a multirun of tiny jobs",
                        f"python -m bench.bench_job_overhead  # runs: python {shown}", body, notes)
    print(path.read_text())


if __name__ == "__main__":
    main(sys.argv[1:])
