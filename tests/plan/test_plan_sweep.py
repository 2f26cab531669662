"""The plan of a tiny sweep against the sweep itself: nothing runs, and what it says is what the run then does."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sgen.plan import format_plan, plan_jobs
from sgen.plan.rates import RateBook
from sgen.job import run_job
from sgen.teachers.openai import OpenAITeacher
from sgen.throughput import rates_path

# One strategy at two budgets (the 20 are a prefix of the 40), a second strategy, and a job that cannot run.
JOBS = [("new_answer", 20), ("new_answer", 40), ("rephrase", 20)]


def cache_rows(cache_dir: Path) -> int:
    path = cache_dir / "queries.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Plan -> real in-process runs of the same jobs -> plans again; everything on a private sgen cache."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from sgen.config import CONFIG_DIR
    from tests.conftest import TINY

    root = tmp_path_factory.mktemp("plan_sweep")
    mp = pytest.MonkeyPatch()
    mp.setenv("SGEN_CACHE_DIR", str(root / "cache"))

    def cfgs(folder: str, *extra: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return [compose("config", overrides=[*TINY, "task.seed_size=25", f"strategy={s}", f"budget.queries={b}",
                                                 f"paths.output_dir={root / folder / str(i)}", *extra])
                    for i, (s, b) in enumerate(JOBS)]

    jobs = cfgs("sweep")
    broken = cfgs("broken", "task.seed_size=100000")[0]
    before = cache_rows(root / "cache")
    first = plan_jobs([*jobs, broken])
    after_plan = {"cache_rows": cache_rows(root / "cache"), "dirs": [Path(c.paths.output_dir).exists() for c in jobs]}
    for cfg in jobs:  # as the sweep runs them: status.json too, so a rerun into these folders skips them
        run_job(cfg)
    metrics = [json.loads((Path(c.paths.output_dir) / "metrics.json").read_text()) for c in jobs]
    again_same_dirs = plan_jobs(jobs)
    again_new_dirs = plan_jobs(cfgs("again"))
    GlobalHydra.instance().clear()
    yield {"root": root, "before": before, "after_plan": after_plan, "first": first, "metrics": metrics,
           "same": again_same_dirs, "new": again_new_dirs}
    mp.undo()


def test_a_plan_runs_nothing(sweep):
    assert sweep["after_plan"]["cache_rows"] == sweep["before"] == 0
    assert sweep["after_plan"]["dirs"] == [False] * len(JOBS)  # no job folder, so no metrics.json either
    # Only a probe ran (no earlier run had measured these tiny models), and the plan says so.
    first = sweep["first"]
    assert first.probe_seconds > 0 and not first.to_json()["nothing_was_run"]
    assert any("probe run now" in line for line in first.rates)


def test_planned_payments_are_what_the_sweep_pays(sweep):
    first, metrics = sweep["first"], sweep["metrics"]
    planned = [job.queries for job in first.jobs[: len(JOBS)]]
    # Nested budgets: the 40-query job pays only the 20 queries the 20-query job did not.
    assert [q.paid for q in planned] == [20, 20, 20] == [m["queries_paid"] for m in metrics]
    assert [q.reused for q in planned] == [0, 20, 0] == [m["queries_cached"] for m in metrics]
    assert [q.used for q in planned] == [m["queries_used"] for m in metrics]
    assert first.totals()["paid"] == 60  # not 80, the sum of the budgets
    # Prompts are counted with the teacher's own tokenizer and chat template: the run's prompt tokens exactly.
    assert [q.prompt_tokens for q in planned] == [m["prompt_tokens"] for m in metrics]
    # The seed-only student is trained by the first job only, as the run does.
    assert [j.seconds["train_seed_only"] > 0 for j in first.jobs[: len(JOBS)]] == [True, False, False]


def test_a_job_that_would_fail_is_planned_as_failing_with_its_reason(sweep):
    job = sweep["first"].jobs[-1]
    assert job.status == "fails" and job.queries is None
    assert job.error.startswith("ValueError: task.seed_size=100000 is larger than") and "\n" not in job.error
    assert sweep["first"].totals()["failing"] == 1
    assert "FAILS: ValueError: task.seed_size=100000" in format_plan(sweep["first"])


def test_per_job_numbers_add_up_to_the_totals(sweep):
    plan = sweep["first"]
    totals, jobs = plan.totals(), [j for j in plan.jobs if j.status == "run"]
    for key in ("used", "paid", "cached", "reused", "paid_prompt_tokens", "paid_completion_tokens"):
        assert totals[key] == sum(getattr(j.queries, key) for j in jobs), key
    for stage, seconds in totals["seconds"].items():
        assert seconds == pytest.approx(plan.startup_seconds if stage == "startup" else
                                        sum(j.seconds[stage] for j in jobs)), stage
    assert totals["seconds_total"] == pytest.approx(plan.startup_seconds + sum(j.total_seconds for j in jobs))
    assert all(j.total_seconds > 0 for j in jobs)


def test_after_the_sweep_its_jobs_are_done_and_a_new_sweep_pays_nothing(sweep):
    assert [j.status for j in sweep["same"].jobs] == ["done"] * len(JOBS)
    assert sweep["same"].totals()["seconds_total"] == 0
    new = sweep["new"]
    assert [j.queries.paid for j in new.jobs] == [0, 0, 0]
    assert [j.queries.cached for j in new.jobs] == [m["queries_used"] for m in sweep["metrics"]]
    assert all(j.seconds["train_seed_only"] == 0 for j in new.jobs)  # the seed-only score is cached now


def test_real_runs_record_rates_that_the_next_plan_reads(sweep):
    lines = [json.loads(line) for line in (sweep["root"] / "cache" / "rates.jsonl").read_text().splitlines()]
    runs = [r for r in lines if r["kind"] == "run"]
    assert [r["kind"] for r in lines] == ["probe", "run", "run", "run"]
    for record, m in zip(runs, sweep["metrics"], strict=True):
        assert record["queries_paid"] == m["queries_paid"] and record["n_train"] == m["n_train"]
        assert record["seconds"] == pytest.approx(m["seconds"])
        assert len(record["calls"]) >= 1 and all(len(c["x"]) == 5 and c["seconds"] > 0 for c in record["calls"])
        assert record["train_examples"] >= m["n_train"] and record["n_test"] == 200
        assert sum(len(v) for v in record["samples"].values()) > 0  # raw completions the plan answers with
    new = sweep["new"]
    assert any("recorded 3 runs" in line for line in new.rates) and new.probe_seconds == 0
    assert new.to_json()["nothing_was_run"]


def test_a_priced_backend_is_priced_without_contacting_it(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("SGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(OpenAITeacher, "load", lambda self: pytest.fail("the plan contacted the server"))
    cfg = tiny_cfg("teacher=openai", "teacher.backend.base_url=http://127.0.0.1:9/v1", "strategy=new_answer",
                   "budget.queries=30", "task.seed_size=25", "teacher.backend.price_per_million_prompt_tokens=0.15",
                   "teacher.backend.price_per_million_completion_tokens=0.60")
    plan = plan_jobs([cfg], probe="false")
    q = plan.jobs[0].queries
    assert q.paid == 30 and q.paid_prompt_tokens > 0 and q.paid_completion_tokens == 30 * 8  # max_new_tokens
    expected = (q.paid_prompt_tokens * 0.15 + q.paid_completion_tokens * 0.60) / 1e6
    assert q.cost_usd_paid == pytest.approx(expected) and plan.totals()["cost_usd_paid"] == pytest.approx(expected)
    text = format_plan(plan)
    assert f"${expected:.4f} to pay" in text and "times unknown" in text
    assert not (tmp_path / "cache" / "rates.jsonl").exists()  # probe=false: nothing measured, nothing written
    assert not rates_path().exists() or RateBook.load().records == []


def test_an_unpriced_server_is_planned_at_an_unknown_cost(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("SGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(OpenAITeacher, "load", lambda self: pytest.fail("the plan contacted the server"))
    cfg = tiny_cfg("teacher=openai", "teacher.backend.base_url=http://127.0.0.1:9/v1", "strategy=new_answer",
                   "budget.queries=30", "task.seed_size=25")
    plan = plan_jobs([cfg], probe="false")
    assert plan.jobs[0].queries.cost_usd_paid is None and plan.totals()["cost_usd_paid"] is None
    assert "an unknown sum" in format_plan(plan)
