"""kill -9 a run whose teacher is a served model (the fault server, counting what it answers): each answer is
committed as its request completes, so the reruns pay the server only for the requests in flight at each kill."""
from __future__ import annotations

import pytest

from tests.conftest import read_metrics, run_sgen
from tests.e2e.test_crash_resume import dataset, kill_when_stored, stored_answers
from tests.teachers.fault_server import FaultServer

KEY_ENV, KEY = "SGEN_TEST_OPENAI_KEY", "sk-test-kill-0b1e"
BUDGET, CONCURRENCY = 120, 4
KILL_POINTS = [8, 16, 24, 32, 40, 48, 56, 64, 72, 80]  # answers in the cache when each attempt is killed


def overrides(server: FaultServer) -> list[str]:
    # One call of the whole budget (query_batch_size): before, every answer of the call that had arrived was lost
    # to a kill; now only the requests in flight are.
    return ["teacher=openai", f"teacher.backend.base_url={server.base_url}", f"teacher.backend.api_key_env={KEY_ENV}",
            f"teacher.backend.concurrency={CONCURRENCY}", "student=tiny", "strategy=new_answer",
            f"budget.queries={BUDGET}", f"query_batch_size={BUDGET}", "progress=false", "task.test_size=200",
            "task.unlabeled_size=2000"]


@pytest.mark.slow
def test_served_teacher_killed_ten_times_pays_only_the_requests_in_flight(tmp_path):
    # Latency keeps several requests in flight at every moment, so each kill lands mid-call.
    with FaultServer(api_key=KEY, latency=0.05, max_seconds=900, max_requests=100_000) as server:
        reference_dir = tmp_path / "uninterrupted"
        run_sgen(*overrides(server), f"hydra.run.dir={reference_dir}",
                 env={"SGEN_CACHE_DIR": str(tmp_path / "cache-uninterrupted"), KEY_ENV: KEY})
        reference = read_metrics(reference_dir)
        answered_reference = server.stats.ok
        assert answered_reference == reference["queries_paid"] == BUDGET

        run_dir, cache_dir = tmp_path / "killed", tmp_path / "cache-killed"
        held = [kill_when_stored(run_dir, cache_dir, at_least, overrides=overrides(server), env={KEY_ENV: KEY})
                for at_least in KILL_POINTS]
        assert held == sorted(held) and held[-1] < BUDGET and not (run_dir / "metrics.json").exists()
        run_sgen(*overrides(server), f"hydra.run.dir={run_dir}", env={"SGEN_CACHE_DIR": str(cache_dir), KEY_ENV: KEY})
        answered_killed = server.stats.ok - answered_reference

    resumed = read_metrics(run_dir)
    assert dataset(run_dir) == dataset(reference_dir)
    assert stored_answers(cache_dir) == BUDGET and resumed["queries_used"] <= BUDGET
    assert resumed["queries_cached"] == held[-1]
    # What the server answered beyond an uninterrupted run: at most the requests in flight at each kill.
    assert answered_killed - BUDGET <= CONCURRENCY * len(KILL_POINTS), (answered_killed, held)
