"""Query cache operations per second: SQLite (WAL, synchronous=FULL) vs PostgreSQL (fsync on, a local server),
with 1, 2 and 4 writer processes.

Each writer loops: claim 64 new keys, put_many their 64 answers (commit + release), get_many the 64 back. One
operation = one call on 64 keys. Every writer uses its own keys, as the jobs of a sweep mostly do; the claim lock
and the commits are what they contend on. The PostgreSQL server is the tests' one (tests/postgres_server.py:
Debian's postgresql, initdb in a temp dir, 127.0.0.1), so this runs where `make test` does (root or a user who
can run initdb).
    python -m bench.bench_cache_stores [--seconds 8] [--writers 1,2,4] [--prefill 20000]
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import table, write_result

log = logging.getLogger(__name__)
KEYS_PER_CALL = 64
OPS = ("claim", "put_many", "get_many")


def _writer(spec: dict, seconds: float, barrier, results) -> None:
    from sgen.records import Completion
    from tests.budget.helpers import open_cache

    cache = open_cache(spec)
    latencies: dict[str, list[float]] = {op: [] for op in OPS}
    barrier.wait()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        keys = [uuid.uuid4().hex for _ in range(KEYS_PER_CALL)]
        t0 = time.perf_counter()
        mine, _ = cache.claim(keys)
        t1 = time.perf_counter()
        cache.put_many("bench", {k: Completion("an answer of a few words " * 4, 90, 30) for k in mine})
        t2 = time.perf_counter()
        found = cache.get_many(keys)
        t3 = time.perf_counter()
        assert len(found) == KEYS_PER_CALL
        for op, dt_ in zip(OPS, (t1 - t0, t2 - t1, t3 - t2)):
            latencies[op].append(dt_)
    cache.close()
    results.put(latencies)


def prefill(spec: dict, n: int) -> None:
    """A cache in use holds answers already: lookups and commits run against an index of n keys, not an empty one
    (PostgreSQL then also has table statistics, as autovacuum keeps them on a long-lived server)."""
    from sgen.records import Completion
    from tests.budget.helpers import open_cache

    with open_cache(spec) as cache:
        for start in range(0, n, 1000):
            keys = [uuid.uuid4().hex for _ in range(min(1000, n - start))]
            cache.claim(keys)
            cache.put_many("bench", {k: Completion("an answer of a few words " * 4, 90, 30) for k in keys})
        if "url" in spec:
            with cache._transaction(cache._connect()):
                cache._execute("ANALYZE queries")


def measure(spec: dict, writers: int, seconds: float) -> dict[str, tuple[float, float]]:
    """Per operation: (calls/s over all writers, median latency ms)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier, results = manager.Barrier(writers), manager.Queue()
        procs = [ctx.Process(target=_writer, args=(spec, seconds, barrier, results)) for _ in range(writers)]
        for p in procs:
            p.start()
        merged: dict[str, list[float]] = {op: [] for op in OPS}
        counts = {op: 0 for op in OPS}
        for _ in procs:
            got = results.get(timeout=seconds + 120)
            for op in OPS:
                merged[op] += got[op]
                counts[op] += len(got[op])
        for p in procs:
            p.join()
    # Calls/s: every writer loops for `seconds`, one call of each op per loop.
    return {op: (counts[op] / seconds, statistics.median(merged[op]) * 1000) for op in OPS}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--writers", default="1,2,4")
    ap.add_argument("--prefill", type=int, default=20_000)
    args = ap.parse_args(argv)
    from tests.postgres_server import start_server

    writer_counts = [int(w) for w in args.writers.split(",")]
    work = Path(tempfile.mkdtemp(prefix="sgen-bench-cache-"))
    server, stop = start_server()
    rows = []
    try:
        for writers in writer_counts:
            for store in ("sqlite", "postgresql"):
                spec = ({"path": str(work / f"{writers}.sqlite")} if store == "sqlite"
                        else {"url": server.create_database()})
                prefill(spec, args.prefill)
                result = measure(spec, writers, args.seconds)
                rows.append([store, writers, *(round(result[op][0], 1) for op in OPS),
                             *(round(result[op][1], 2) for op in OPS),
                             round(result["put_many"][0] * KEYS_PER_CALL, 0)])
                log.warning("%s x%d: %s", store, writers, rows[-1])
    finally:
        stop()
        shutil.rmtree(work, ignore_errors=True)
    body = table(["store", "writers", "claim calls/s", "put_many calls/s", "get_many calls/s", "claim ms (median)",
                  "put_many ms", "get_many ms", "answers committed/s"], rows)
    notes = (f"One call = {KEYS_PER_CALL} keys; each store holds {args.prefill:,} answers before the timing starts; "
             f"each configuration ran {args.seconds:g} s. Calls/s are totals over all writers, each looping claim "
             "-> put_many -> get_many on its own keys for the whole interval. Both stores are durable per commit "
             "(SQLite synchronous=FULL in WAL mode; PostgreSQL fsync and synchronous_commit on), on the same local "
             "disk, the server on 127.0.0.1 sharing the 2 cores with the writers. Claims and commits take one lock "
             "in both stores (SQLite's write lock, a PostgreSQL advisory lock), so more writers add throughput only "
             "while others read or wait on the disk. For scale: a local teacher answers tens of queries a second on "
             "this machine, a served one hundreds, and a job commits each answer as it arrives.")
    path = write_result("cache_stores", "Query cache: SQLite vs PostgreSQL operations per second",
                        f"python -m bench.bench_cache_stores --seconds {args.seconds:g} --writers {args.writers} "
                        f"--prefill {args.prefill}",
                        body, notes)
    log.warning("wrote %s", path)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
