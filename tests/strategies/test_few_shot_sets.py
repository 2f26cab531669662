"""Few-shot blocks shared across items: a bounded set of exemplar blocks, picked by the item's key, never showing
a question as its own example."""
from __future__ import annotations

from sgen.records import Example, TaskData
from sgen.strategies.base import GenerationContext
from sgen.tasks.gsm8k_prompts import MathPrompts
from sgen.tasks.base import label_itself
from sgen.tasks.prompts import ClassificationPrompts


def context(seed: list[Example], sets: int | None, prompts) -> GenerationContext:
    data = TaskData(seed=seed, unlabeled=[], test=[], labels=["neg", "pos"])
    return GenerationContext(prompts=prompts, data=data, teacher=None, augmenter=None, verifier_client=None,
                             ledger=None, seed=3, few_shot=4, label_params=None, text_params=None,
                             answer_key=label_itself, few_shot_sets=sets)


SEED = [Example(f"s{i}", f"seed text {i} ends here", "pos" if i % 2 else "neg") for i in range(20)]


def blocks(ctx: GenerationContext, n: int) -> list[tuple]:
    return [tuple(m["content"] for m in ctx.label_prompt(f"text {i}", f"u{i}")[1:-1]) for i in range(n)]


def test_label_prompts_share_a_bounded_set_of_blocks():
    ctx = context(SEED, 4, ClassificationPrompts(("neg", "pos")))
    shared = blocks(ctx, 200)
    assert len(set(shared)) == 4 and all(len(b) == 8 for b in shared)  # 4 exemplars as user/assistant turns
    assert shared == blocks(context(SEED, 4, ClassificationPrompts(("neg", "pos"))), 200)  # deterministic
    fresh = blocks(context(SEED, None, ClassificationPrompts(("neg", "pos"))), 200)
    assert len(set(fresh)) > 100  # null: a fresh draw per item, as before


def test_a_question_is_never_its_own_example():
    ctx = context(SEED, 3, MathPrompts())
    for q in SEED:
        prompt = ctx.answer_prompt(q.text, q.id, exclude=q.id)
        shown = [m["content"] for m in prompt[:-1] if m["role"] == "user"]
        assert not any(q.text in text for text in shown)
    # With a tiny seed set every block may hold the question: then it gets its own draw without it.
    tiny = SEED[:5]
    ctx = context(tiny, 2, MathPrompts())
    for q in tiny:
        shown = [m["content"] for m in ctx.answer_prompt(q.text, q.id, exclude=q.id)[:-1] if m["role"] == "user"]
        assert not any(q.text in text for text in shown) and len(shown) == 4
