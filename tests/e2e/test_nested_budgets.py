"""Nested budgets reuse work: a grid pays the largest budget per (strategy, seed set), not the sum of its budgets."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import TINY, read_metrics, run_sgen

STRATEGIES = ("new_answer", "new_question")


def sweep(sweep_dir: Path, cache_dir: Path, budgets: str) -> dict[tuple[str, int], dict]:
    """One `python -m sgen -m` over both strategies and the budgets in that order; metrics by (strategy, budget)."""
    run_sgen("-m", *TINY, f"strategy={','.join(STRATEGIES)}", f"budget.queries={budgets}", "query_batch_size=16",
             f"hydra.sweep.dir={sweep_dir}", env={"SGEN_CACHE_DIR": str(cache_dir)})
    jobs = sorted((p for p in sweep_dir.iterdir() if (p / "metrics.json").exists()), key=lambda p: int(p.name))
    metrics = [read_metrics(job) for job in jobs]
    assert len(metrics) == 4, [p.name for p in jobs]
    return {(m["strategy"], m["budget"]): {**m, "job": int(job.name)} for m, job in zip(metrics, jobs, strict=True)}


@pytest.mark.parametrize("order", ["40,100", "100,40"])
def test_smaller_budget_is_a_prefix_of_the_larger_one(tmp_path, order):
    runs = sweep(tmp_path / "sweep", tmp_path / "cache", order)
    for strategy in STRATEGIES:
        small, large = runs[strategy, 40], runs[strategy, 100]
        assert (small["job"] < large["job"]) == (order == "40,100")  # the jobs really ran in the asked order
        assert small["queries_used"] >= 39 and large["queries_used"] >= 99  # new_question may leave 1 unspendable
        total_paid = small["queries_paid"] + large["queries_paid"]
        # Whatever the order, the pair pays what the larger run uses: each of its distinct queries once.
        assert total_paid == large["queries_used"], (strategy, order, small, large)
        if order == "100,40":
            assert (small["queries_paid"], small["queries_cached"]) == (0, small["queries_used"])
            assert large["queries_cached"] == 0
        else:
            assert (small["queries_paid"], large["queries_cached"]) == (small["queries_used"], small["queries_used"])
    # Nothing else was stored: the shared cache holds exactly what was paid.
    conn = sqlite3.connect(tmp_path / "cache" / "queries.sqlite")
    stored = conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
    conn.close()
    assert stored == sum(m["queries_paid"] for m in runs.values())


@pytest.mark.slow  # two sweeps of four jobs
def test_rerunning_a_sweep_into_its_directory_skips_finished_jobs_and_pays_nothing(tmp_path):
    first = sweep(tmp_path / "sweep", tmp_path / "cache", "40,100")
    # A job that was killed before it finished has no status.json: the rerun redoes it, from the cache.
    killed = tmp_path / "sweep" / str(first["new_question", 100]["job"])
    (killed / "status.json").unlink()
    (killed / "metrics.json").unlink()
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "sweep").glob("*/metrics.json")}
    again = sweep(tmp_path / "sweep", tmp_path / "cache", "40,100")
    for key, metrics in again.items():
        if key == ("new_question", 100):
            assert metrics["queries_paid"] == 0 and metrics["queries_cached"] == first[key]["queries_used"]
        else:
            assert {k: v for k, v in metrics.items() if k != "job"} == {k: v for k, v in first[key].items()
                                                                         if k != "job"}
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before  # finished jobs were not rewritten
    status = json.loads((killed / "status.json").read_text())
    assert status["status"] == "ok"
