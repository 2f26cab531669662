"""SLURM scheduling overhead per job: a sweep of N tiny jobs as one array on the local single-node cluster
(launchers/local_cluster), against the same sweep through Hydra's basic launcher (one process, jobs in turn).

For each array task: queue wait (SLURM SubmitTime -> StartTime), SLURM's job wall time (StartTime -> EndTime, whole
seconds, from the job-completion log that `sacct -c` reads) and the time inside the job (Hydra's task function:
.hydra/ written -> status.json written). The difference is what SLURM + submitit + a fresh Python cost per job.
    python -m bench.bench_slurm [--jobs 8] [--budget 100q]     (root: it starts munged/slurmctld/slurmd)
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import table, write_result

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "launchers" / "local_cluster"
TINY = ["teacher=tiny", "student=tiny", "progress=false", "task.test_size=200", "task.unlabeled_size=2000"]


def sweep(launcher: list[str], jobs: int, budget: str, sweep_dir: Path, env: dict[str, str]) -> float:
    """Run the sweep (seeds 0..jobs-1) and return its wall time from the submitting side."""
    cmd = [sys.executable, "-m", "sgen", "-m", *launcher, *TINY, f"budget={budget}",
           f"seed={','.join(map(str, range(jobs)))}", f"hydra.sweep.dir={sweep_dir}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return seconds


def inside_seconds(job_dir: Path) -> float:
    """Time in Hydra's task function: it writes .hydra/ first and sgen writes status.json last."""
    return (job_dir / "status.json").stat().st_mtime - (job_dir / ".hydra" / "overrides.yaml").stat().st_mtime


def work_seconds(job_dir: Path) -> float:
    """sgen's own stages (load, generate, train, eval, write) from metrics.json: the job's actual work."""
    return sum(json.loads((job_dir / "metrics.json").read_text())["seconds"].values())


def slurm_records(cluster_dir: Path, array_id: str) -> dict[int, dict[str, str]]:
    records = {}
    for line in (cluster_dir / "log" / "jobcomp.log").read_text().splitlines():
        rec = dict(re.findall(r"(\w+)=(\S*)", line))
        if rec.get("ArrayJobId") == array_id and rec.get("JobState") == "COMPLETED":
            records[int(rec["ArrayTaskId"])] = rec
    return records


def _t(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)


def measure_slurm(jobs: int, budget: str, work: Path, env: dict[str, str]) -> tuple[float, list[list]]:
    cluster_dir = work / "cluster"
    subprocess.run(["bash", str(CLUSTER / "start.sh"), str(cluster_dir)], check=True, capture_output=True,
                   timeout=900)
    try:
        for line in (cluster_dir / "env.sh").read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.replace("$PATH", env["PATH"])
        sweep_dir = work / "slurm"
        wall = sweep(["hydra/launcher=slurm_local"], jobs, budget, sweep_dir, env)
        array_id = next(p.name.split("_")[0] for p in (sweep_dir / ".submitit").iterdir() if "_" in p.name)
        deadline = time.monotonic() + 60  # submitit returns a moment before SLURM logs the last completions
        while len(slurm_records(cluster_dir, array_id)) < jobs and time.monotonic() < deadline:
            time.sleep(0.2)
        records = slurm_records(cluster_dir, array_id)
    finally:
        subprocess.run(["bash", str(CLUSTER / "stop.sh"), str(cluster_dir)], timeout=60, capture_output=True)
    rows = []
    for task, rec in sorted(records.items()):
        wait = (_t(rec["StartTime"]) - _t(rec["SubmitTime"])).total_seconds()
        elapsed = (_t(rec["EndTime"]) - _t(rec["StartTime"])).total_seconds()
        inside, work = inside_seconds(sweep_dir / str(task)), work_seconds(sweep_dir / str(task))
        rows.append([f"{array_id}_{task}", wait, elapsed, round(inside, 2), round(work, 2),
                     round(elapsed - inside, 2)])
    return wall, rows


def render(rows: list[list], slurm_wall: float, basic_wall: float, basic_inside: list[float],
           basic_work: list[float]) -> tuple[str, str]:
    """The markdown tables and notes of bench/results/slurm.md."""
    jobs, overhead = len(basic_inside), [r[5] for r in rows]
    mean = lambda values: round(statistics.mean(values), 2)  # noqa: E731
    per_task = table(["array task", "queue wait s", "SLURM wall s", "inside job s", "sgen work s", "overhead s"], rows)
    side_by_side = table(
        ["launcher", "jobs", "parallel", "sweep wall s", "mean inside job s", "mean sgen work s",
         "mean overhead/job s"],
        [["slurm_local (array)", len(rows), 2, round(slurm_wall, 1), mean(r[3] for r in rows),
          mean(r[4] for r in rows), mean(overhead)],
         ["basic (one process)", jobs, 1, round(basic_wall, 1), mean(basic_inside), mean(basic_work),
          round((basic_wall - sum(basic_inside)) / jobs, 2)]])
    notes = ("SLURM times are whole seconds (slurmctld's resolution). Inside job = Hydra's task function; sgen work "
             "= the stages metrics.json times (load, generate, train, eval, write); the difference is first-time "
             "imports (torch, transformers, Lightning) that every fresh SLURM job pays and the basic launcher pays "
             "once. Overhead per SLURM job = SLURM wall - inside job: batch script, srun step, Python start, "
             "submitit unpickling the job, SLURM's completion. The basic launcher's per-job overhead is (sweep wall - "
             "sum inside) / jobs, its one start-up included; its jobs run one at a time, the array two at a time on "
             f"this 2-CPU node. Median SLURM overhead: {statistics.median(overhead):.1f} s/job.")
    return per_task + "\n\n" + side_by_side, notes


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--budget", default="100q")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        log.warning("bench_slurm skipped: the local cluster (launchers/local_cluster/start.sh) needs root")
        return
    work = Path(tempfile.mkdtemp(prefix="sgen-bench-slurm-"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", "SGEN_CACHE_DIR": str(work / "cache")}
    try:
        slurm_wall, rows = measure_slurm(args.jobs, args.budget, work, dict(env))
        # The same sweep through Hydra's basic launcher: one process, jobs one after another, one import.
        # A fresh cache, so both sweeps pay for their queries and train their seed-only students.
        basic_env = {**env, "SGEN_CACHE_DIR": str(work / "cache-basic")}
        basic_wall = sweep([], args.jobs, args.budget, work / "basic", basic_env)
        basic_inside = [inside_seconds(work / "basic" / str(i)) for i in range(args.jobs)]
        basic_work = [work_seconds(work / "basic" / str(i)) for i in range(args.jobs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    body, notes = render(rows, slurm_wall, basic_wall, basic_inside, basic_work)
    path = write_result("slurm", f"SLURM array sweep: scheduling overhead per job ({args.jobs} tiny jobs)",
                        f"python -m bench.bench_slurm --jobs {args.jobs} --budget {args.budget}", body, notes)
    log.warning("wrote %s", path)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
