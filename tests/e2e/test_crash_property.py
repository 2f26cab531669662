"""Crash safety as a property: for every strategy, with a local and with a served teacher, kill -9 at kill points
drawn at random (set by the journal's lines, not by sleeps), rerun the same command, and the run completes with the
dataset of an uninterrupted run, never books more than its budget and never pays for an answer it already stored.

The kill points come from a seeded generator (SGEN_CRASH_SEED, default 13) and are in every failure message, so a
failing draw can be replayed; set another seed to explore other points.
"""
from __future__ import annotations

import os
import random
from contextlib import nullcontext
from pathlib import Path

import pytest

from tests.conftest import TINY, read_jsonl, read_metrics, run_sgen
from tests.e2e.test_crash_resume import dataset, journal_lines, kill_when, stored_answers
from tests.teachers.fault_server import FaultServer

SEED = int(os.environ.get("SGEN_CRASH_SEED", "13"))
BUDGET, CHUNK, CONCURRENCY = 96, 8, 4
KILLS_PER_CASE = 3  # x 4 strategies x 2 teachers = 24 kill points
STRATEGIES = ["new_answer", "rephrase", "new_question", "mix"]
KEY_ENV, KEY = "SGEN_TEST_OPENAI_KEY", "sk-test-property-5d2a"


def overrides(strategy: str, server: FaultServer | None) -> list[str]:
    common = [f"strategy={strategy}", f"budget.queries={BUDGET}", f"query_batch_size={CHUNK}"]
    if server is None:
        return [*TINY, *common]
    return [*TINY, "teacher=openai", f"teacher.backend.base_url={server.base_url}",
            f"teacher.backend.api_key_env={KEY_ENV}", f"teacher.backend.concurrency={CONCURRENCY}", *common]


def attempt_ledger(run_dir: Path) -> tuple[int, int]:
    """(paid, cached) queries an attempt booked, from its journal."""
    rows = read_jsonl(run_dir / "queries.jsonl") if (run_dir / "queries.jsonl").exists() else []
    cached = sum(row["cached"] for row in rows)
    return len(rows) - cached, cached


def check_kills_then_rerun(tmp_path: Path, strategy: str, served: bool) -> None:
    server_or_none = FaultServer(api_key=KEY, latency=0.02, max_seconds=900, max_requests=100_000) if served else None
    with server_or_none or nullcontext() as server:
        env = {KEY_ENV: KEY} if served else {}
        args = overrides(strategy, server)
        reference_dir = tmp_path / "uninterrupted"
        run_sgen(*args, f"hydra.run.dir={reference_dir}", env={"SGEN_CACHE_DIR": str(tmp_path / "cache-ref"), **env})
        reference = read_metrics(reference_dir)
        answered_reference = server.stats.ok if served else 0
        assert reference["queries_cached"] == 0 and reference["queries_used"] <= BUDGET

        rng = random.Random(f"{SEED}-{strategy}-{served}")
        points = sorted(rng.sample(range(1, reference["queries_used"]), KILLS_PER_CASE))
        where = f"seed {SEED}, {strategy}, {'served' if served else 'local'} teacher, kill points {points}"
        run_dir, cache_dir = tmp_path / "killed", tmp_path / "cache-killed"
        run_env = {"SGEN_CACHE_DIR": str(cache_dir), **env}
        for at_least in points:
            (run_dir / "queries.jsonl").unlink(missing_ok=True)  # the last attempt's lines must not trigger this kill
            before = stored_answers(cache_dir)
            kill_when(run_dir, lambda: journal_lines(run_dir), at_least, overrides=args, env=run_env)
            paid, cached = attempt_ledger(run_dir)
            after = stored_answers(cache_dir)
            # Within budget; answers this attempt booked as paid are new in the cache; what it found it did not pay.
            assert paid + cached <= BUDGET and after <= BUDGET, where
            assert paid <= after - before and cached <= before, (where, at_least, before, after, paid, cached)
        assert not (run_dir / "metrics.json").exists(), where  # every kill landed before the run finished
        held = stored_answers(cache_dir)
        assert held >= 1, where  # the kills landed after answers were paid for, not all during start-up
        run_sgen(*args, f"hydra.run.dir={run_dir}", env=run_env)
        answered_killed = (server.stats.ok - answered_reference) if served else None

    resumed = read_metrics(run_dir)
    assert dataset(run_dir) == dataset(reference_dir), where
    assert resumed["queries_used"] == reference["queries_used"] <= BUDGET, where
    # Nothing paid twice: the attempts together stored what the uninterrupted run paid, and the rerun paid for
    # exactly the answers the killed attempts had not stored.
    assert stored_answers(cache_dir) == reference["queries_paid"], where
    assert resumed["queries_cached"] == held and resumed["queries_paid"] == reference["queries_paid"] - held, where
    if served:  # the server's own count: beyond an uninterrupted run, at most the requests in flight at each kill
        assert answered_killed - answered_reference <= CONCURRENCY * len(points), (where, answered_killed)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_local_teacher_survives_kills_at_random_journal_lines(tmp_path, strategy):
    check_kills_then_rerun(tmp_path, strategy, served=False)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_served_teacher_survives_kills_at_random_journal_lines(tmp_path, strategy):
    check_kills_then_rerun(tmp_path, strategy, served=True)
