"""A SLURM job preempted mid-generation is requeued and resumes without paying for completed queries again."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from sgen.budget.cache import QueryCache
from tests.conftest import REPO, TINY, read_jsonl, read_metrics

# A real cluster and real jobs take a minute or more: slow as well, so `make test-fast` leaves them out.
pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.xdist_group("slurm")]  # one cluster, one worker

# query_batch_size=16: the cache commits every 16 answers, so an interruption lands between many committed chunks.
# teacher.backend.batch_size=2 keeps the tiny teacher to a few hundred rewrites a second here, so 1k take several
# seconds: `scontrol requeue` kills only after KillWait (2 s on the local cluster), and at the default batch of 32
# the first attempt had paid 800 of 1000 by then (2026-11-23; on a quieter machine it finished first); at 2, 281.
BUDGET = 1000
RUN = [*TINY, "budget=1k", "strategy=rephrase", "query_batch_size=16", "teacher.backend.batch_size=2"]
INTERRUPT_AFTER = 24  # queries booked (journal lines) before the job is interrupted


@dataclass
class Submission:
    """A one-job sweep submitted in the background, with its own query cache."""

    proc: subprocess.Popen
    sweep: Path
    cache: Path

    def finish(self, timeout: float = 600) -> dict:
        """Wait for the submitting command; the job's metrics."""
        if self.proc.returncode is None:
            out, _ = self.proc.communicate(timeout=timeout)
            assert self.proc.returncode == 0, out[-4000:]
        return read_metrics(self.sweep / "0")


def submit(slurm_cluster, root: Path, name: str) -> Submission:
    sweep, cache = root / name / "sweep", root / name / "cache"
    env = {**os.environ, **slurm_cluster.env, "SGEN_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1",
           "WANDB_MODE": "offline"}
    proc = subprocess.Popen([sys.executable, "-m", "sgen", "-m", "hydra/launcher=slurm_local", *RUN,
                             f"hydra.sweep.dir={sweep}"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    return Submission(proc, sweep, cache)


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().count("\n") if path.exists() else 0
        if lines >= n:
            return lines
        if proc.poll() is not None:
            raise AssertionError(f"the sweep ended before generation got to {n} queries:\n{proc.stdout.read()}")
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {n} lines in {timeout} s")


@pytest.fixture(scope="module")
def reference(slurm_cluster, tmp_path_factory) -> Submission:
    """The same job, never interrupted, with a fresh cache: submitted once, runs beside the first test's job."""
    return submit(slurm_cluster, tmp_path_factory.mktemp("reference"), "reference")


def wait_for_state(slurm_cluster, job_id: str, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while slurm_cluster.run("squeue", "-h", "-j", job_id, "-o", "%T").strip() != state:
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never reached {state}:\n{slurm_cluster.run('squeue')}")
        time.sleep(0.1)


@pytest.mark.parametrize("interrupt", ["usr2", "requeue"])
def test_preempted_job_resumes_without_paying_twice(slurm_cluster, reference, tmp_path, interrupt):
    """usr2: what SLURM sends before the time limit (and on preemption, where configured): submitit calls the
    launcher's checkpoint and requeues the job. requeue: the cluster requeues it (`scontrol requeue`, as
    PreemptMode=REQUEUE does): SIGTERM, which submitit ignores, then SIGKILL. Either way the rerun finds every
    completed query in the shared cache."""
    interrupted = submit(slurm_cluster, tmp_path, "interrupted")
    sweep, cache = interrupted.sweep, interrupted.cache
    seen = wait_for_lines(sweep / "0" / "queries.jsonl", INTERRUPT_AFTER, interrupted.proc)
    job_id = next(p.name for p in (sweep / ".submitit").iterdir() if p.name.isdigit())
    if interrupt == "usr2":
        slurm_cluster.run("scancel", "--signal=USR2", job_id)
    else:
        slurm_cluster.run("scontrol", "requeue", job_id)
    # Requeued jobs wait cred_expire (10 s on the local cluster) before they start again: between the attempts,
    # the private cache holds exactly what the first attempt paid for.
    wait_for_state(slurm_cluster, job_id, "PENDING")
    with QueryCache(cache / "queries.sqlite") as stored:
        paid_first = stored.count()
    ref, metrics = reference.finish(), interrupted.finish()
    slurm_cluster.wait_until_gone(job_id)

    # SLURM ran the job twice: it logged the interrupted run (requeued, back to PENDING) and then the completion.
    states = [r["JobState"] for r in slurm_cluster.finished_jobs() if r["JobId"] == job_id]
    assert states[-1] == "COMPLETED" and len(states) >= 2, states
    log_out = next((sweep / ".submitit" / job_id).glob("*_log.out")).read_text()
    assert log_out.count(f"Starting with JobEnvironment(job_id={job_id},") == 2
    if interrupt == "usr2":
        assert "Calling checkpoint method." in log_out and f"Requeued job {job_id}" in log_out

    assert seen <= paid_first < BUDGET, f"the interruption did not land mid-generation ({paid_first} paid)"
    assert metrics["queries_used"] == ref["queries_used"] == ref["queries_paid"] == BUDGET
    # The second attempt took every query the first had completed from the cache and paid only for the rest...
    assert metrics["queries_cached"] == paid_first
    assert metrics["queries_paid"] == BUDGET - paid_first
    journal = read_jsonl(sweep / "0" / "queries.jsonl")
    assert len(journal) == BUDGET and sum(r["cached"] for r in journal) == paid_first
    # ...so the queries paid across both attempts equal the uninterrupted run's, and nothing was paid twice.
    assert paid_first + metrics["queries_paid"] == ref["queries_paid"]
    with QueryCache(cache / "queries.sqlite") as stored:
        assert stored.count() == ref["queries_paid"]
    # The final synthetic dataset is the uninterrupted run's.
    ours = [(r["text"], r["label"]) for r in read_jsonl(sweep / "0" / "synthetic.jsonl")]
    theirs = [(r["text"], r["label"]) for r in read_jsonl(reference.sweep / "0" / "synthetic.jsonl")]
    assert ours == theirs
    assert json.loads((sweep / "0" / "status.json").read_text())["status"] == "ok"
