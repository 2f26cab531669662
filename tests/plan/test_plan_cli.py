"""`python -m sgen -m <overrides> hydra/launcher=plan` as a user types it: a table, plan.json and plan.csv, no job."""
from __future__ import annotations

import csv
import json

from tests.conftest import TINY, run_sgen


def test_plan_launcher_prints_and_saves_the_plan_and_runs_no_job(tmp_path):
    sweep, cache = tmp_path / "sweep", tmp_path / "cache"
    proc = run_sgen("-m", *TINY, "strategy=new_answer", "budget.queries=20,40", "task.seed_size=25,100000",
                    f"hydra.sweep.dir={sweep}", "hydra/launcher=plan", env={"SGEN_CACHE_DIR": str(cache)})
    out = proc.stdout
    assert "Sweep plan: 4 jobs (2 to run, 0 finished already, 2 failing)" in out
    assert "Every job: teacher=tiny student=tiny" in out
    assert "Total: 40 queries to pay of 60 used (0 in the cache, 20 reused within the sweep)" in out
    assert "FAILS: ValueError: task.seed_size=100000 is larger than" in out and "Wall time, jobs one after" in out
    assert "probe run now" in out  # nothing had measured the tiny models on this cache

    plan = json.loads((sweep / "plan.json").read_text())
    assert plan["totals"]["paid"] == 40 and plan["totals"]["to_run"] == 2 and plan["totals"]["failing"] == 2
    jobs = {j["job"]: j for j in plan["jobs"]}
    assert (jobs[0]["paid"], jobs[2]["paid"], jobs[2]["reused"]) == (20, 20, 20)
    assert jobs[0]["overrides"].endswith("budget.queries=20 task.seed_size=25")
    assert jobs[1]["status"] == "fails" and jobs[1]["seconds_total"] == 0
    assert plan["totals"]["seconds_total"] > 0
    with open(sweep / "plan.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["paid"]) for r in rows] == [20, 0, 20, 0]

    # Nothing ran: no job folder, no teacher query stored.
    assert sorted(p.name for p in sweep.iterdir()) == ["multirun.yaml", "plan.csv", "plan.json"]
    assert not (cache / "queries.sqlite").exists()
