"""Seed sets are deterministic, stratified and nested; prompts parse what real teachers say."""
from __future__ import annotations

from collections import Counter

import pytest

from sgen.records import Example
from sgen.tasks.prompts import ClassificationPrompts
from sgen.tasks.splits import allocate, stratified_sample
from tests.core.conftest import tweet_task


def _examples(counts):
    return [Example(f"{lab}-{i}", f"text {lab} {i}", lab) for lab, n in counts.items() for i in range(n)]


def test_allocate_is_proportional_and_exact():
    assert allocate({"a": 60, "b": 30, "c": 10}, 10) == {"a": 6, "b": 3, "c": 1}
    assert sum(allocate({"a": 5, "b": 1, "c": 1}, 3).values()) == 3
    assert allocate({"a": 5, "b": 1, "c": 1}, 3) == {"a": 1, "b": 1, "c": 1}  # every label shows up


def test_stratified_sample_deterministic_and_nested():
    pool = _examples({"neg": 500, "neu": 300, "pos": 200})
    a = stratified_sample(pool, 50, seed=3)
    assert a == stratified_sample(pool, 50, seed=3)
    assert Counter(e.label for e in a) == {"neg": 25, "neu": 15, "pos": 10}
    assert {e.id for e in a} < {e.id for e in stratified_sample(pool, 200, seed=3)}
    assert {e.id for e in a} != {e.id for e in stratified_sample(pool, 50, seed=4)}


def test_tweet_task_splits(task_data):
    seed_ids = {e.id for e in task_data.seed}
    pool_ids = {e.id for e in task_data.unlabeled}
    test_texts = {e.text for e in task_data.test}
    assert len(task_data.seed) == 30 and len(task_data.unlabeled) == 300 and len(task_data.test) == 60
    assert not seed_ids & pool_ids
    assert not test_texts & {e.text for e in task_data.seed + task_data.unlabeled}
    assert all(e.label is None for e in task_data.unlabeled)  # the teacher never sees pool labels
    assert set(task_data.hidden_gold) == pool_ids
    assert task_data.labels == ["negative", "neutral", "positive"]
    assert set(Counter(e.label for e in task_data.seed)) == set(task_data.labels)
    assert "\ufffd" not in " ".join(e.text for e in task_data.seed)


def test_same_seed_same_splits_other_seed_other_seed_set(task_data):
    again = tweet_task().load(seed=0)
    other = tweet_task().load(seed=1)
    assert again.seed == task_data.seed and again.test == task_data.test
    assert other.test == task_data.test  # the test set is fixed across run seeds
    assert {e.id for e in other.seed} != {e.id for e in task_data.seed}


def test_seed_size_larger_than_pool_fails_clearly():
    with pytest.raises(ValueError, match=r"task.seed_size=10000000 is larger than the \d+ training rows"):
        tweet_task(seed_size=10_000_000).load(seed=0)


P = ClassificationPrompts(("negative", "neutral", "positive"), "tweet", "sentiment")


@pytest.mark.parametrize("raw,label,status", [
    ("The sentiment of this tweet is positive.", "positive", "ok"),
    ("Negative", "negative", "ok"),
    ("neutral, maybe positive", "neutral", "ok"),
    ("nonpositive", None, "no_label"),
    ("", None, "empty"),
    ("I cannot tell.", None, "no_label"),
])
def test_parse_label(raw, label, status):
    assert P.parse_label(raw) == (label, status)


def test_parse_label_with_underscored_intents():
    p = ClassificationPrompts(("card_arrival", "card_linking", "lost_or_stolen_card"))
    assert p.parse_label("Intent: lost or stolen card") == ("lost_or_stolen_card", "ok")
    assert p.parse_label("card_arrival") == ("card_arrival", "ok")


@pytest.mark.parametrize("raw,source,text,status", [
    ('Here is the rewritten tweet: "Loving the new phone!"', None, "Loving the new phone!", "ok"),
    ("Sure, here's one:\nTraffic is awful today.\n\nLet me know if you need more.", None, "Traffic is awful today.",
     "ok"),
    ("ok", None, None, "empty"),
    ("same words", "Same   words", None, "copy_of_source"),
    ("x" * 500, None, None, "too_long"),
])
def test_parse_text(raw, source, text, status):
    assert P.parse_text(raw, source) == (text, status)


def test_prompts_carry_labels_and_exemplars(task_data):
    msgs = P.label("I love it", task_data.seed[:2])
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "negative, neutral, positive" in msgs[0]["content"]
    assert msgs[1]["content"] == task_data.seed[0].text and msgs[2]["content"] == task_data.seed[0].label
    assert msgs[-1] == {"role": "user", "content": "I love it"}
    assert "positive" in P.new_input("positive", task_data.seed[:3])[0]["content"]
