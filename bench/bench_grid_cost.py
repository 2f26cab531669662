"""Teacher queries a strategy x budget grid pays with the shared query cache, against the sum of its budgets (what a
tool without cross-run reuse pays). Target: exactly the largest budget per (strategy, seed set).

One `python -m sgen -m` sweep on a fresh cache (tiny teacher and student; the issue's budgets 100..10k, about 8
minutes on 2 busy cores), then the same sweep into a new directory (a later sweep: everything from the cache).
    python -m bench.bench_grid_cost [--budgets 100,300,1000,3000,10000] [--strategies new_answer,rephrase,new_question]
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import table, write_result

ROOT = Path(__file__).resolve().parents[1]
TINY = ["teacher=tiny", "student=tiny", "progress=false", "task.test_size=200"]


def sweep(strategies: str, budgets: str, sweep_dir: Path, env: dict[str, str]) -> tuple[list[dict], float]:
    """Run the grid as one multirun; return every job's metrics and the sweep's wall time."""
    largest = max(int(b) for b in budgets.split(","))
    cmd = [sys.executable, "-m", "sgen", "-m", *TINY, f"task.unlabeled_size={max(2000, largest)}",
           f"strategy={strategies}", f"budget.queries={budgets}", f"hydra.sweep.dir={sweep_dir}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=7200)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    jobs = [json.loads((d / "metrics.json").read_text()) for d in sorted(sweep_dir.iterdir(), key=_job_num)
            if (d / "metrics.json").exists()]
    expected = len(strategies.split(",")) * len(budgets.split(","))
    if len(jobs) != expected:
        raise RuntimeError(f"{len(jobs)} of {expected} jobs wrote metrics.json in {sweep_dir}")
    return jobs, seconds


def _job_num(path: Path) -> int:
    return int(path.name) if path.name.isdigit() else -1


def cost_rows(first: list[dict], later: list[dict], stored: int) -> list[list]:
    rows = []
    for strategy in dict.fromkeys(m["strategy"] for m in first):
        mine = [m for m in first if m["strategy"] == strategy]
        again = [m for m in later if m["strategy"] == strategy]
        largest = max(mine, key=lambda m: m["budget"])
        paid = sum(m["queries_paid"] for m in mine)
        rows.append([strategy, ", ".join(str(m["budget"]) for m in mine), sum(m["budget"] for m in mine),
                     sum(m["queries_used"] for m in mine), paid, largest["queries_used"],
                     "yes" if paid == largest["queries_used"] else "NO", sum(m["queries_paid"] for m in again)])
    total_paid = sum(r[4] for r in rows)
    rows.append(["all", "", sum(r[2] for r in rows), sum(r[3] for r in rows), total_paid,
                 sum(r[5] for r in rows), f"stored {stored}", sum(r[7] for r in rows)])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", default="100,300,1000,3000,10000")
    ap.add_argument("--strategies", default="new_answer,rephrase,new_question")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        env = {**os.environ, "SGEN_CACHE_DIR": str(cache), "WANDB_MODE": "offline",
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        first, first_s = sweep(args.strategies, args.budgets, Path(tmp) / "sweep1", env)
        later, later_s = sweep(args.strategies, args.budgets, Path(tmp) / "sweep2", env)
        with sqlite3.connect(cache / "queries.sqlite") as conn:
            stored = conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
    rows = cost_rows(first, later, stored)
    body = table(["strategy", "budgets", "sum of budgets", "queries used (no reuse pays this)",
                  "paid with shared cache", "largest run's queries", "paid == largest", "paid by a later sweep"],
                 rows)
    gen_first = sum(m["seconds"].get("generate", 0.0) for m in first)
    gen_later = sum(m["seconds"].get("generate", 0.0) for m in later)
    notes = (f"{len(first)} jobs per sweep (tiny teacher and student, seed set 100, query_batch_size 64). "
             f"First sweep on a fresh cache: {first_s:.0f} s wall, {gen_first:.1f} s in generation. A later sweep "
             f"of the same grid into a new directory: {later_s:.0f} s wall, {gen_later:.1f} s in generation (every "
             "query served from the cache). new_question may leave one query of a budget unspent (an item costs "
             "2), so the target is the largest run's queries used. Items are planned in a fixed order, so each "
             "smaller budget's queries are a prefix of the largest one's.")
    command = f"python -m bench.bench_grid_cost --budgets {args.budgets} --strategies {args.strategies}"
    path = write_result("grid_cost", "Grid cost: queries paid with the shared query cache vs the sum of budgets",
                        command, body, notes)
    print(path.read_text())  # a command-line report, like the other benchmarks


if __name__ == "__main__":
    main()
