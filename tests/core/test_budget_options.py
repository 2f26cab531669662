"""Budgets as a user types them: a number (`budget=300`) and a budget/seed ratio (`budget=ratio`)."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from sgen.config import numeric_budget_overrides, queries_for_ratio
from tests.conftest import run_sgen


@pytest.mark.parametrize("ratio,seed_size,queries", [(1, 25, 25), (32, 50, 1600), (3.5, 20, 70), (0.1, 25, 2)])
def test_ratio_budget_resolves_to_ratio_times_seed_size(tiny_cfg, ratio, seed_size, queries):
    cfg = tiny_cfg("budget=ratio", f"budget.ratio={ratio}", f"task.seed_size={seed_size}")
    assert OmegaConf.to_container(cfg.budget, resolve=True) == {"ratio": ratio, "queries": queries}
    assert queries_for_ratio(ratio, seed_size) == queries


def test_negative_ratio_is_refused():
    with pytest.raises(ValueError, match="budget.ratio must be >= 0, got -1"):
        queries_for_ratio(-1, 10)


def test_numeric_budget_is_read_as_a_query_count():
    assert numeric_budget_overrides(["-m", "budget=100,300", "budget=1k", "budget=300", "seed=1"]) == \
        ["-m", "budget.queries=100,300", "budget=1k", "budget.queries=300", "seed=1"]


def test_budget_number_on_the_command_line():
    out = run_sgen("budget=120", "--cfg", "job", "--resolve").stdout
    assert "budget:\n  queries: 120\n" in out
