"""In-process building blocks for core tests: real tasks data and a tiny real teacher, no subprocess."""
from __future__ import annotations

from sgen.budget import MeteredTeacher, QueryLedger
from sgen.records import GenerationParams, TaskData
from sgen.strategies import GenerationContext
from sgen.tasks.base import label_itself
from sgen.tasks.prompts import ClassificationPrompts


def make_context(data: TaskData, backend, budget: int, batch_size: int = 16, round_size: int = 256,
                 seed: int = 0) -> GenerationContext:
    ledger = QueryLedger(budget)
    meter = dict(ledger=ledger, batch_size=batch_size)
    return GenerationContext(
        prompts=ClassificationPrompts(tuple(data.labels), "tweet", "sentiment"),
        data=data,
        teacher=MeteredTeacher(backend, role="teacher", **meter),
        augmenter=MeteredTeacher(backend, role="augmenter", **meter),
        verifier_client=MeteredTeacher(backend, role="verifier", **meter),
        ledger=ledger, seed=seed, few_shot=2,
        label_params=GenerationParams(6, 1.0), text_params=GenerationParams(10, 1.0), answer_key=label_itself,
        round_size=round_size,
    )
