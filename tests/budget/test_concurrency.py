"""Two jobs asking the same queries at the same moment: every query is generated once, and none is lost."""
from __future__ import annotations

import multiprocessing
from tests.budget.helpers import ask_in_process


def test_two_processes_share_one_cache_and_pay_each_query_once(tmp_path):
    n = 48
    path = str(tmp_path / "queries.sqlite")
    ctx = multiprocessing.get_context("spawn")
    # spawn: each job is a fresh interpreter with its own SQLite connection and pid, as in a real sweep.
    with ctx.Manager() as manager, ctx.Pool(2) as pool:
        barrier = manager.Barrier(2, timeout=120)  # both jobs start asking once both have loaded their teacher
        forward, backward = pool.starmap(ask_in_process, [(path, n, False, barrier), (path, n, True, barrier)])
    from sgen.budget import QueryCache

    with QueryCache(path) as cache:
        stored = cache.count()
        leftover_claims = cache._connect().execute("SELECT COUNT(*) FROM claims").fetchone()[0]
    assert stored == n and leftover_claims == 0
    # Every query paid exactly once across both jobs, and the teacher generated nothing that was thrown away.
    assert forward["paid"] + backward["paid"] == n
    assert forward["generated"] + backward["generated"] == n
    assert forward["paid"] + forward["cached"] == n and backward["paid"] + backward["cached"] == n
    # Asking in opposite orders, each job generated some queries and took the rest from the other.
    assert forward["paid"] > 0 and backward["paid"] > 0
    assert forward["texts"] == backward["texts"]
