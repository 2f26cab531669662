"""Budgets as a user types them: a number (`budget=300`) and a budget/seed ratio (`budget=ratio`)."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from sgen.config import BudgetSpellingError, numeric_budget_overrides, queries_for_ratio
from tests.conftest import run_sgen


@pytest.mark.parametrize("ratio,seed_size,queries", [(1, 25, 25), (32, 50, 1600), (3.5, 20, 70), (0.1, 25, 2)])
def test_ratio_budget_resolves_to_ratio_times_seed_size(tiny_cfg, ratio, seed_size, queries):
    cfg = tiny_cfg("budget=ratio", f"budget.ratio={ratio}", f"task.seed_size={seed_size}")
    assert OmegaConf.to_container(cfg.budget, resolve=True) == {"ratio": ratio, "queries": queries, "usd": None}
    assert queries_for_ratio(ratio, seed_size) == queries


def test_negative_ratio_is_refused():
    with pytest.raises(ValueError, match="budget.ratio must be >= 0, got -1"):
        queries_for_ratio(-1, 10)


def test_numeric_budget_is_read_as_a_query_count():
    assert numeric_budget_overrides(["-m", "budget=100,300", "budget=1k", "budget=300", "seed=1"]) == \
        ["-m", "budget.queries=100,300", "budget=1k", "budget.queries=300", "seed=1"]


@pytest.mark.parametrize("spelled, queries", [("1000", 1000), ("2.5k", 2500), ("250q", 250), ("1M", 1_000_000),
                                               ("1.5K", 1500)])
def test_any_count_a_user_would_write_is_a_query_count(spelled, queries):
    assert numeric_budget_overrides([f"budget={spelled}"]) == [f"budget.queries={queries}"]


def test_budget_options_stay_options_and_other_words_go_to_hydra():
    kept = ["budget=1k", "budget=ratio", "budget=1k,10k", "budget=lots", "budget=range(100,300,100)", "budget.queries=5"]
    assert numeric_budget_overrides(kept) == kept
    assert numeric_budget_overrides(["budget=1k,2.5k"]) == ["budget.queries=1000,2500"]  # a count among options


def test_a_fraction_of_a_query_is_refused_with_what_to_write():
    with pytest.raises(BudgetSpellingError, match=r"budget=2.5 is not a whole number of queries.*budget=2 "):
        numeric_budget_overrides(["budget=2.5"])


def test_budget_number_on_the_command_line():
    out = run_sgen("budget=120", "--cfg", "job", "--resolve", subprocess_cli=True).stdout
    assert "budget:\n  queries: 120\n" in out
    for spelled, queries in (("100", 100), ("2.5k", 2500)):
        out = run_sgen(f"budget={spelled}", "--cfg", "job", "--resolve").stdout
        assert f"budget:\n  queries: {queries}\n" in out
    proc = run_sgen("budget=2.5", "--cfg", "job", check=False, subprocess_cli=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == ["sgen: error: budget=2.5 is not a whole number of queries; write a "
                                                "whole count such as budget=2 or budget.queries=2"]
