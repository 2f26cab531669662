"""Two jobs asking the same queries at the same moment: every query is generated once, and none is lost."""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest

from tests.budget.helpers import ask_in_process, open_cache
from tests.conftest import REPO, TINY, read_jsonl, read_metrics


def test_two_processes_share_one_cache_and_pay_each_query_once(store):
    """Two jobs of one machine, on either store."""
    two_jobs_pay_each_query_once(store(), hosts=(None, None))


@pytest.mark.postgres
def test_two_hosts_share_one_postgres_cache_and_pay_each_query_once(postgres_server):
    """Two 'hosts' (distinct host names in their claims, so neither can check the other's pid: only leases and
    commits coordinate them, as across cluster nodes). PostgreSQL only: SQLite is one machine's store."""
    two_jobs_pay_each_query_once({"url": postgres_server.create_database()}, hosts=("node-a", "node-b"))


def two_jobs_pay_each_query_once(spec: dict, hosts: tuple) -> None:
    n = 48
    ctx = multiprocessing.get_context("spawn")
    # spawn: each job is a fresh interpreter with its own connection and pid, as in a real sweep.
    with ctx.Manager() as manager, ctx.Pool(2) as pool:
        barrier = manager.Barrier(2, timeout=120)  # both jobs start asking once both have loaded their teacher
        forward, backward = pool.starmap(ask_in_process, [(spec, n, False, barrier, hosts[0]),
                                                          (spec, n, True, barrier, hosts[1])])
    with open_cache(spec) as cache:
        stored = cache.count()
        leftover_claims = cache.claim_count()
    assert stored == n and leftover_claims == 0
    # Every query paid exactly once across both jobs, and the teacher generated nothing that was thrown away.
    assert forward["paid"] + backward["paid"] == n
    assert forward["generated"] + backward["generated"] == n
    assert forward["paid"] + forward["cached"] == n and backward["paid"] + backward["cached"] == n
    # Asking in opposite orders, each job generated some queries and took the rest from the other.
    assert forward["paid"] > 0 and backward["paid"] > 0
    assert forward["texts"] == backward["texts"]


@pytest.mark.slow  # two real runs at once
def test_two_runs_started_together_pay_each_query_once(tmp_path):
    """Two `python -m sgen` jobs of one experiment, started at once on one cache: together they pay what one pays,
    and both write the same synthetic dataset."""
    overrides = [*TINY, "strategy=new_question", "budget.queries=300", "query_batch_size=8"]
    env = {**os.environ, "SGEN_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-m", "sgen", *overrides, f"hydra.run.dir={tmp_path / name}"],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    a, b = read_metrics(tmp_path / "a"), read_metrics(tmp_path / "b")
    assert a["queries_used"] == b["queries_used"] >= 299
    assert a["queries_paid"] + b["queries_paid"] == a["queries_used"]
    rows_a, rows_b = (read_jsonl(tmp_path / name / "synthetic.jsonl") for name in ("a", "b"))
    assert [(r["text"], r["label"], r["kept"]) for r in rows_a] == [(r["text"], r["label"], r["kept"]) for r in rows_b]
