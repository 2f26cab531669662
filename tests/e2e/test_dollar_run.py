"""`python -m sgen budget=usd`: a run capped in dollars, end to end with the tiny teacher priced like an API."""
from __future__ import annotations

import pytest

from tests.conftest import TINY, read_jsonl, read_metrics, run_sgen

PRICED = [*TINY, "budget=usd", "budget.usd=0.01", "teacher.backend.price_per_million_prompt_tokens=1",
          "teacher.backend.price_per_million_completion_tokens=4", "strategy=mix", "verifier=majority",
          "task.seed_size=30"]


@pytest.fixture(scope="module")
def dollar_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("usd") / "run"
    run_sgen(*PRICED, f"hydra.run.dir={out}")
    return out


def test_spend_stays_under_the_cap_and_is_accounted(dollar_run):
    m = read_metrics(dollar_run)
    assert m["budget"] is None and m["budget_usd"] == 0.01
    assert 0.005 < m["spent_usd"] <= 0.01  # most of the cap is spent, never more
    assert m["cost_usd"] == pytest.approx(m["spent_usd"])  # the ledger's settlement is what metrics price
    assert sum(m["spent_usd_by_role"].values()) == pytest.approx(m["spent_usd"])
    assert m["ratio"] == pytest.approx(m["queries_used"] / 30)  # the ratio the dollars bought
    assert m["queries_by_role"]["augmenter"] > 0 and m["queries_by_role"]["verifier"] > 0
    rows = read_jsonl(dollar_run / "synthetic.jsonl")
    # Every booked query sits in one row; a query the cap did not send sits in none.
    assert sorted(q for r in rows for q in r["query_ids"]) == list(range(m["queries_used"]))
    assert all(not r["kept"] for r in rows if r["parse_status"] == "not sent: dollar cap")


def test_a_rerun_replays_the_same_spend_from_the_cache(dollar_run, tmp_path):
    again = tmp_path / "again"
    run_sgen(*PRICED, f"hydra.run.dir={again}")
    a, b = read_metrics(dollar_run), read_metrics(again)
    assert b["queries_paid"] == 0 and b["spent_usd"] == pytest.approx(a["spent_usd"])
    pick = lambda d: [(r["text"], r["label"], r["parse_status"]) for r in read_jsonl(d / "synthetic.jsonl")]
    assert pick(dollar_run) == pick(again)
