"""kill -9 mid-generation, rerun the same command: nothing paid is lost, nothing is paid twice, the budget holds, and
the synthetic dataset equals an uninterrupted run's."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY, read_jsonl, read_metrics, run_sgen

BUDGET = 400
# new_question: the label queries depend on the texts generated before them, so a resumed run must see the same
# texts to ask the same label queries.
OVERRIDES = [*TINY, "strategy=new_question", f"budget.queries={BUDGET}", "query_batch_size=16"]


def stored_answers(cache_dir: Path) -> int:
    path = cache_dir / "queries.sqlite"
    if not path.exists():
        return 0
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
    except sqlite3.OperationalError:  # the run has created the file but not its tables yet
        return 0
    finally:
        conn.close()


def journal_lines(run_dir: Path) -> int:
    """Queries the current attempt has booked: complete lines of its queries.jsonl (flushed per chunk)."""
    path = run_dir / "queries.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_when(run_dir: Path, progress: Callable[[], int], at_least: int, timeout: float = 300,
              overrides: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    """Start `python -m sgen`, SIGKILL it once progress() reaches at_least (polled, so the kill point is set by what
    the run wrote, not by a sleep); return progress() after the kill."""
    proc = subprocess.Popen([sys.executable, "-m", "sgen", *(overrides or OVERRIDES), f"hydra.run.dir={run_dir}"],
                            cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while progress() < at_least:
            assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before progress reached {at_least}"
            assert time.monotonic() < deadline, "the run did not reach the kill point in time"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()  # reaped: its claims now belong to a dead process
    return progress()


def kill_when_stored(run_dir: Path, cache_dir: Path, at_least: int, timeout: float = 300,
                     overrides: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    """Start `python -m sgen`, SIGKILL it once the cache holds at_least answers; return how many it held."""
    return kill_when(run_dir, lambda: stored_answers(cache_dir), at_least, timeout, overrides,
                     {"SGEN_CACHE_DIR": str(cache_dir), **(env or {})})


def dataset(run_dir: Path) -> list[dict]:
    """synthetic.jsonl without the per-query `cached` flags, which tell only who paid."""
    rows = read_jsonl(run_dir / "synthetic.jsonl")
    for row in rows:
        row["queries"] = [{k: v for k, v in q.items() if k != "cached"} for q in row["queries"]]
    return rows


@pytest.mark.slow
def test_sigkill_mid_generation_then_rerun_loses_nothing_and_pays_nothing_twice(tmp_path):
    reference_dir, reference_cache = tmp_path / "uninterrupted", tmp_path / "cache-uninterrupted"
    run_sgen(*OVERRIDES, f"hydra.run.dir={reference_dir}", env={"SGEN_CACHE_DIR": str(reference_cache)})
    reference = read_metrics(reference_dir)
    assert reference["queries_cached"] == 0 and reference["queries_used"] <= BUDGET
    assert stored_answers(reference_cache) == reference["queries_paid"]

    run_dir, cache_dir = tmp_path / "killed", tmp_path / "cache-killed"
    held = [kill_when_stored(run_dir, cache_dir, at_least) for at_least in (1, 150, 300)]
    # Every kill hit mid-generation: answers stored so far, no finished run on disk.
    assert 1 <= held[0] <= held[1] <= held[2] < reference["queries_paid"]
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "status.json").exists()

    run_sgen(*OVERRIDES, f"hydra.run.dir={run_dir}", env={"SGEN_CACHE_DIR": str(cache_dir)})
    resumed = read_metrics(run_dir)
    assert dataset(run_dir) == dataset(reference_dir)
    # Paid across the three killed attempts and the final one = what the uninterrupted run paid, within budget.
    total_paid = stored_answers(cache_dir)
    assert total_paid == reference["queries_paid"] <= BUDGET
    assert resumed["queries_cached"] == held[2] and resumed["queries_paid"] == total_paid - held[2]
    assert resumed["queries_used"] == reference["queries_used"] <= BUDGET
    # The journal of the final attempt lists every query once, in order, flagged paid or cached.
    journal = read_jsonl(run_dir / "queries.jsonl")
    assert [q["query_id"] for q in journal] == list(range(resumed["queries_used"]))
    assert sum(q["cached"] for q in journal) == resumed["queries_cached"]
    assert json.loads((run_dir / "status.json").read_text())["status"] == "ok"
