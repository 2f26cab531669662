"""The ledger is never overspent: not by batching, not by verifier votes, not by a mix of strategies."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgen.budget import BudgetExceeded, MeteredTeacher, QueryLedger
from sgen.records import GenerationParams, QueryRecord
from sgen.strategies import Mix, NewAnswer, NewQuestion, Rephrase
from sgen.strategies.mix import split_budget
from sgen.verifiers import MajorityVerifier, NoVerifier
from tests.core.helpers import make_context


def _record(role="teacher", cached=False):
    return QueryRecord(0, role, "label", [], "x", 3, 2, cached)


def test_ledger_counts_roles_and_tokens():
    ledger = QueryLedger(5)
    for role in ("teacher", "augmenter", "verifier", "teacher"):
        ledger.record(_record(role))
    ledger.record(_record("teacher", cached=True))
    s = ledger.summary()
    assert s["queries_by_role"] == {"teacher": 3, "augmenter": 1, "verifier": 1, "judge": 0}
    assert (s["queries_used"], s["queries_paid"], s["queries_cached"]) == (5, 4, 1)
    assert s["prompt_tokens"] == 15 and s["completion_tokens_by_role"]["teacher"] == 6
    with pytest.raises(BudgetExceeded, match="only 0 of 5 remain"):
        ledger.record(_record())


def test_unknown_role_is_rejected():
    with pytest.raises(ValueError, match="valid roles: teacher, augmenter, verifier, judge"):
        QueryLedger(3).record(_record("grader"))


def test_metered_teacher_refuses_to_overspend(task_data, tiny_backend):
    ledger = QueryLedger(3)
    meter = MeteredTeacher(tiny_backend, ledger, "teacher", batch_size=2)
    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(4)]
    with pytest.raises(BudgetExceeded):
        meter.ask(prompts, GenerationParams(4), "label")
    assert ledger.used == 0  # refused before anything was generated
    assert len(meter.ask(prompts[:3], GenerationParams(4), "label")) == 3
    assert ledger.used == 3


@pytest.mark.parametrize("budget", [0, 1, 7, 100])
def test_split_budget_sums_exactly(budget):
    shares = split_budget(budget, {"a": 0.5, "b": 0.3, "c": 0.2})
    assert sum(shares.values()) == budget and all(v >= 0 for v in shares.values())


STRATEGIES = {
    "new_answer": lambda: NewAnswer(),
    "rephrase": lambda: Rephrase(),
    "rephrase_relabel": lambda: Rephrase(relabel=True),
    "new_question": lambda: NewQuestion(),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    budget=st.integers(min_value=0, max_value=60),
    batch_size=st.integers(min_value=1, max_value=17),
    round_size=st.integers(min_value=1, max_value=40),
    weights=st.lists(st.integers(min_value=0, max_value=3), min_size=4, max_size=4).filter(lambda w: sum(w) > 0),
    k=st.sampled_from([0, 2, 3]),
)
def test_budget_never_exceeded(task_data, tiny_backend, budget, batch_size, round_size, weights, k):
    verifier = MajorityVerifier(k=k) if k else NoVerifier()
    mix = Mix(dict(zip(STRATEGIES, weights, strict=True)), {n: f() for n, f in STRATEGIES.items()})
    ctx = make_context(task_data, tiny_backend, budget, batch_size=batch_size, round_size=round_size)
    rows = mix.generate(ctx, verifier, budget)
    assert ctx.ledger.used <= budget
    # Leftover is smaller than the dearest item: the budget is spent as far as items fit.
    dearest = max(s.cost_per_item(verifier) for s in mix.components.values())
    assert budget - ctx.ledger.used < dearest * len(mix.components) + dearest
    # Every booked query belongs to exactly one row: nothing paid for is lost.
    assert sum(len(r.queries) for r in rows) == ctx.ledger.used
