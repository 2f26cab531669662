"""One strategy name per concept: the classification flows behave as before, annotate is new_answer's alias there."""
from __future__ import annotations

from collections import Counter

import pytest

from sgen.strategies import Annotate, NewAnswer, NewQuestion, Rephrase
from sgen.verifiers import GoldVerifier, MajorityVerifier, NoVerifier
from tests.core.conftest import tweet_task
from tests.core.helpers import make_context


@pytest.fixture(scope="module")
def tweets():
    return tweet_task(seed_size=12, unlabeled_size=40, test_size=10).load(seed=0)


@pytest.fixture(scope="module")
def backend():
    from sgen.teachers.hf import tiny_teacher

    return tiny_teacher(batch_size=8, labels=("negative", "neutral", "positive"))


def test_annotate_is_new_answer_on_classification(tweets, backend):
    runs = {}
    for strategy in (NewAnswer(), Annotate()):
        ctx = make_context(tweets, backend, 12, round_size=5)
        rows = strategy.generate(ctx, NoVerifier(), 12)
        runs[strategy.name] = rows
        assert ctx.ledger.by_role == Counter(teacher=12) and {r.strategy for r in rows} == {strategy.name}
        assert [r.source_id for r in rows] == [e.id for e in tweets.unlabeled[:12]]
    same = lambda rows: [(r.text, r.label, r.parse_status, r.kept) for r in rows]  # noqa: E731
    assert same(runs["new_answer"]) == same(runs["annotate"])
    assert any(r.kept for r in runs["annotate"])


# Majority k=3 adds k-1 votes when the teacher labeled the row, k when it did not (rephrase keeps the seed label).
@pytest.mark.parametrize(("strategy", "cost", "with_votes"), [
    (NewAnswer(), 1, 3), (Annotate(), 1, 3), (Rephrase(), 1, 4), (Rephrase(relabel=True), 2, 4), (NewQuestion(), 2, 4)])
def test_classification_costs_are_unchanged(strategy, cost, with_votes):
    assert strategy.cost_per_item(NoVerifier(), "classification") == cost
    assert strategy.cost_per_item(MajorityVerifier(k=3), "classification") == with_votes


@pytest.mark.parametrize(("strategy", "cost"), [(NewAnswer(), 1), (Annotate(), 1), (Rephrase(), 2),
                                                (NewQuestion(), 2), (NewQuestion(check_answerable=True), 3)])
def test_generation_costs_follow_the_paper(strategy, cost):
    assert strategy.cost_per_item(NoVerifier(), "generation") == cost
    assert strategy.cost_per_item(MajorityVerifier(k=4), "generation") == cost + 3  # k-1: the teacher answered


def test_gold_is_refused_on_classification(tweets):
    with pytest.raises(ValueError, match="got strategy=new_answer on a classification task"):
        NewAnswer().check(tweets, 10, GoldVerifier())


def test_unknown_kind_names_the_supported_ones():
    with pytest.raises(ValueError, match=r"does not support ranking tasks; it supports \['classification', "
                                         r"'generation'\]"):
        NewAnswer().flow("ranking")
