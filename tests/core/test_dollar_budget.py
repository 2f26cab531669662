"""Budgets in dollars: the ledger holds each query's worst case before it is sent and settles it to the real usage,
so spend never exceeds the cap, whatever the prompts, max_new_tokens and prices."""
from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgen.budget import BudgetScope, MeteredTeacher, QueryLedger
from sgen.records import Completion, GenerationParams, Messages, QueryRecord
from sgen.strategies import Mix, NewQuestion, Rephrase
from sgen.strategies.base import UNSENT_STATUS
from sgen.teachers.base import Teacher, prompt_tokens_bound
from sgen.verifiers import MajorityVerifier, NoVerifier
from tests.core.helpers import make_context


class PricedFake(Teacher):
    """A served model with a price: it bills a prompt as its whitespace words plus a template's few tokens (within
    the byte bound, as a real tokenizer is) and answers with a random number of tokens up to max_new_tokens."""

    def __init__(self, prompt_price: float, completion_price: float, seed: int = 0) -> None:
        self.model_id = f"priced-{prompt_price}-{completion_price}"
        self.price = {"prompt": prompt_price, "completion": completion_price}
        self.rng = random.Random(seed)
        self.sent = 0

    def generate(self, prompts: Sequence[Messages], params: GenerationParams, seeds=None,
                 on_result=None) -> list[Completion]:
        self.sent += len(prompts)
        out = []
        for prompt in prompts:
            tokens = self.rng.randint(0, params.max_new_tokens)
            billed = sum(len((m["content"] or "").split()) for m in prompt) + 5 * len(prompt) + 3
            assert billed <= prompt_tokens_bound(prompt)
            out.append(Completion(" ".join(["word"] * tokens), billed, tokens))
        return out


def _prompt(words: int) -> Messages:
    return [{"role": "system", "content": "You label texts."},
            {"role": "user", "content": " ".join(f"w{i}" for i in range(words))}]


@settings(max_examples=60, deadline=None)
@given(
    cap=st.floats(min_value=0.0, max_value=0.05),
    prices=st.lists(st.tuples(st.floats(0.0, 20.0), st.floats(0.01, 80.0)), min_size=2, max_size=2),
    calls=st.lists(st.tuples(st.integers(1, 40), st.integers(1, 600), st.integers(1, 256), st.integers(0, 1)),
                   min_size=1, max_size=25),
    batch_size=st.integers(1, 16),
)
def test_spend_never_exceeds_the_cap(cap, prices, calls, batch_size):
    ledger = QueryLedger(None, cap)
    backends = [PricedFake(*price, seed=i) for i, price in enumerate(prices)]
    meters = [MeteredTeacher(b, ledger, role, batch_size=batch_size)
              for b, role in zip(backends, ("teacher", "augmenter"), strict=True)]
    answered = 0.0
    for n, words, max_new_tokens, which in calls:
        params = GenerationParams(max_new_tokens=max_new_tokens)
        before = ledger.spent_usd
        records = meters[which].ask([_prompt(words + i) for i in range(n)], params, "label")
        assert len(records) == n  # one record per prompt, sent or not
        sent = [r for r in records if r.sent]
        assert records[: len(sent)] == sent  # what is sent is a prefix: the rest waits for no one
        cost = sum(backends[which].cost_usd(r.prompt_tokens, r.completion_tokens) for r in sent)
        assert ledger.spent_usd - before == pytest.approx(cost)
        answered += cost
        assert ledger.spent_usd <= cap + 1e-12
        assert ledger.held_usd == 0  # every hold is settled when its call returns
        if len(sent) < n:  # refused only when not even its own worst case fits in what is left
            assert backends[which].worst_cost_usd(records[len(sent)].prompt, max_new_tokens) > ledger.usd_left
            assert all(r.text == "" and r.prompt_tokens == r.completion_tokens == 0 for r in records[len(sent):])
    assert sum(b.sent for b in backends) == ledger.used  # the backends answered exactly what was booked
    assert ledger.spent_usd == pytest.approx(answered)
    summary = ledger.summary()
    assert summary["budget_usd"] == cap and summary["spent_usd"] == pytest.approx(answered)
    assert sum(summary["spent_usd_by_role"].values()) == pytest.approx(answered)


def test_rounds_plan_what_the_dollars_left_surely_pay_for():
    ledger = QueryLedger(None, 1.0)
    assert BudgetScope(ledger, None).items(cost=3) == 1  # before any query's cost is known, one item learns it
    assert ledger.hold([0.3, 0.3, 0.3, 0.3]) == 3  # the fourth does not fit beside what the first three hold
    ledger.release(0.9)
    for usd in (0.1, 0.25):
        ledger.record(QueryRecord(0, "teacher", "label", [], "x", 3, 2), usd)
    assert ledger.dearest_usd == 0.25 and ledger.usd_left == pytest.approx(0.65)
    assert BudgetScope(ledger, None).items(cost=1) == 2  # 0.65 left at 0.25 a query
    assert BudgetScope(ledger, None).items(cost=2) == 1
    assert BudgetScope(ledger, None, usd=0.2).items(cost=1) == 0  # a mix's share of the dollars
    assert BudgetScope(QueryLedger(5, 100.0), None).items(cost=2) == 1  # the count holds too (probe: 1)


def test_cached_answers_are_charged_and_free_backends_cost_nothing(tmp_path):
    from sgen.budget import QueryCache

    backend = PricedFake(1.0, 4.0)
    cache = QueryCache(tmp_path / "cache.sqlite")
    prompts = [_prompt(5 + i) for i in range(6)]
    first = QueryLedger(None, 1.0)
    MeteredTeacher(backend, first, "teacher", cache=cache).ask(prompts, GenerationParams(20), "label")
    again = QueryLedger(None, 1.0)
    MeteredTeacher(backend, again, "teacher", cache=cache).ask(prompts, GenerationParams(20), "label")
    cache.close()
    assert backend.sent == 6 and again.cached == 6
    assert first.spent_usd > 0
    assert again.spent_usd == pytest.approx(first.spent_usd)  # the cap is the design: who pays does not matter


@pytest.fixture
def priced_backend(tiny_backend):
    """The tiny real teacher, priced as a served model would be ($2 / $10 per million tokens)."""
    free = tiny_backend.price
    tiny_backend.price = {"prompt": 2.0, "completion": 10.0}
    yield tiny_backend
    tiny_backend.price = free


def _priced_context(task_data, backend, usd: float, **kw):
    ctx = make_context(task_data, backend, budget=0, **kw)
    ctx.ledger.budget, ctx.ledger.usd = None, usd
    return ctx


@pytest.mark.parametrize("strategy", [Rephrase(relabel=True), NewQuestion()], ids=["rephrase", "new_question"])
def test_a_strategy_spends_its_dollars_in_shrinking_rounds(task_data, priced_backend, strategy):
    ctx = _priced_context(task_data, priced_backend, usd=0.004, round_size=64)
    rows = strategy.generate(ctx, MajorityVerifier(k=2), None)
    ledger = ctx.ledger
    assert 0 < ledger.spent_usd <= 0.004
    # It stops when one more item would cost more than what is left, or a query's worst case no longer fits
    # (prompt bound and all of max_new_tokens: about 4x what this tiny teacher's queries really cost).
    assert ledger.refused or ledger.usd_left < strategy.cost_per_item(MajorityVerifier(k=2)) * ledger.dearest_usd
    assert ledger.spent_usd > 0.6 * 0.004
    assert ledger.used > 3 * strategy.cost_per_item(MajorityVerifier(k=2))  # several rounds
    assert sum(len(r.queries) for r in rows) == ledger.used  # every paid query belongs to a row
    assert all(q.sent for r in rows for q in r.queries)
    assert all(not r.kept for r in rows if r.parse_status == UNSENT_STATUS)


def test_a_mix_splits_the_dollars_by_weight(task_data, priced_backend):
    ctx = _priced_context(task_data, priced_backend, usd=0.003)
    mix = Mix({"rephrase": 1, "new_question": 3}, {"rephrase": Rephrase(), "new_question": NewQuestion()})
    rows = mix.generate(ctx, NoVerifier(), None)
    by_strategy = {s: sum(priced_backend.cost_usd(q.prompt_tokens, q.completion_tokens)
                          for r in rows if r.strategy == s for q in r.queries) for s in ("rephrase", "new_question")}
    assert ctx.ledger.spent_usd <= 0.003
    assert sum(by_strategy.values()) == pytest.approx(ctx.ledger.spent_usd)
    # Its share (planning keeps to it; the first item, which learns the worst case, may pass it by one item).
    assert by_strategy["rephrase"] <= 0.003 / 4 + ctx.ledger.dearest_usd
    assert by_strategy["new_question"] > 2 * by_strategy["rephrase"]


class Overbilling(PricedFake):
    """A server that bills more prompt tokens than any tokenizer could make of the prompt (hidden system tokens)."""

    def generate(self, prompts, params, seeds=None, on_result=None):
        return [Completion(c.text, c.prompt_tokens + 10_000, c.completion_tokens)
                for c in super().generate(prompts, params, seeds, on_result)]


def test_a_server_billing_beyond_the_bound_is_booked_and_named(caplog):
    ledger = QueryLedger(None, 0.01)
    meter = MeteredTeacher(Overbilling(1.0, 1.0), ledger, "teacher", batch_size=4)
    meter.ask([_prompt(5)] * 8, GenerationParams(8), "label")
    assert ledger.spent_usd > 0.01  # what was billed is booked, never hidden
    assert "billed more than the worst case held" in caplog.text


def test_the_ledger_refuses_nonsense():
    with pytest.raises(ValueError, match="neither|a query count, a dollar cap or both"):
        QueryLedger(None, None)
    with pytest.raises(ValueError, match="budget.usd must be a number of dollars >= 0, got -1"):
        QueryLedger(None, -1.0)
