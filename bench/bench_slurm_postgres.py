"""A 12-job multirun through the local SLURM cluster with the query cache on PostgreSQL, against the same sweep on
the SQLite cache: queries paid vs the largest budget per (strategy, seed set), and the per-job cost of the store.

Grid: strategy=new_answer,new_question x budget=100q,300q,1k x seed=0,1 (tiny models), two array tasks at a time
on the 2-CPU node, so nested budgets of one (strategy, seed) often run side by side and share claims.
    python -m bench.bench_slurm_postgres      (root: it starts munged/slurmctld/slurmd and a PostgreSQL server)
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.bench_slurm import CLUSTER, ROOT, TINY, inside_seconds
from bench.common import table, write_result

log = logging.getLogger(__name__)
GRID = ["strategy=new_answer,new_question", "budget=100q,300q,1k", "seed=0,1"]


def run_sweep(sweep_dir: Path, env: dict[str, str]) -> float:
    cmd = [sys.executable, "-m", "sgen", "-m", "hydra/launcher=slurm_local", *TINY, *GRID,
           f"hydra.sweep.dir={sweep_dir}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def summarise(sweep_dir: Path) -> dict:
    jobs = sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    metrics = [json.loads((p / "metrics.json").read_text()) for p in jobs]
    paid, largest = defaultdict(int), defaultdict(int)
    for m in metrics:
        cell = (m["strategy"], m["seed"])
        paid[cell] += m["queries_paid"]
        largest[cell] = max(largest[cell], m["queries_used"])
    return {"jobs": len(jobs), "paid": dict(paid), "largest": dict(largest),
            "inside": statistics.mean(inside_seconds(p) for p in jobs),
            "load": statistics.mean(m["seconds"]["load"] for m in metrics),
            "generate": statistics.mean(m["seconds"]["generate"] for m in metrics),
            "sum_budgets": sum(m["queries_used"] for m in metrics)}


def main(argv: list[str] | None = None) -> None:
    if os.geteuid() != 0:
        log.warning("bench_slurm_postgres skipped: the local cluster needs root")
        return
    sys.path.insert(0, str(ROOT))
    from tests.postgres_server import start_server

    work = Path(tempfile.mkdtemp(prefix="sgen-bench-slurm-pg-"))
    cluster_dir = work / "cluster"
    server, stop_server = start_server()
    results = {}
    try:
        subprocess.run(["bash", str(CLUSTER / "start.sh"), str(cluster_dir)], check=True, capture_output=True,
                       timeout=900)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
        for line in (cluster_dir / "env.sh").read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.replace("$PATH", env["PATH"])
        for store in ("postgresql", "sqlite"):
            store_env = {**env, "SGEN_CACHE_DIR": str(work / f"cache-{store}")}
            store_env.pop("SGEN_CACHE_URL", None)
            if store == "postgresql":
                store_env["SGEN_CACHE_URL"] = server.create_database()
            wall = run_sweep(work / store, store_env)
            results[store] = {**summarise(work / store), "wall": wall}
            log.warning("%s: %s", store, results[store])
    finally:
        subprocess.run(["bash", str(CLUSTER / "stop.sh"), str(cluster_dir)], timeout=60, capture_output=True)
        stop_server()
        shutil.rmtree(work, ignore_errors=True)

    pg = results["postgresql"]
    cells = table(["strategy", "seed", "queries paid (all budgets)", "largest budget used"],
                  [[s, seed, pg["paid"][(s, seed)], pg["largest"][(s, seed)]]
                   for s, seed in sorted(pg["paid"])])
    side = table(["store", "jobs", "sweep wall s", "sum of budgets", "queries paid", "mean inside job s",
                  "mean load s", "mean generate s"],
                 [[store, r["jobs"], round(r["wall"], 1), r["sum_budgets"], sum(r["paid"].values()),
                   round(r["inside"], 2), round(r["load"], 2), round(r["generate"], 2)]
                  for store, r in results.items()])
    overhead = pg["inside"] - results["sqlite"]["inside"]
    notes = (f"Per-job cost of PostgreSQL over SQLite (mean time inside the job): {overhead:+.2f} s. Queries paid "
             "per (strategy, seed) equal the largest budget's when every smaller budget's queries are a prefix of "
             "it (nested budgets) and no query is paid twice, even when two budgets of one cell run at once; a few below it where one job asks the same query twice (same prompt, same sample index: paid once, booked twice). Both "
             "stores on this machine's disk, the server on 127.0.0.1; a real cluster adds a network round trip "
             "per cache call.")
    path = write_result("slurm_postgres", "SLURM sweep on the PostgreSQL query cache (12 tiny jobs)",
                        "python -m bench.bench_slurm_postgres", cells + "\n\n" + side, notes)
    log.warning("wrote %s", path)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
