"""Answer augmentation. For classification this is annotation (Kaddour & Liu): the teacher labels unlabeled inputs;
for generation tasks the teacher writes new chain-of-thought answers to the seed questions (Chan et al. 2024)."""
from __future__ import annotations

from collections.abc import Mapping

from sgen.records import SyntheticRow, TaskData
from sgen.strategies.base import Flow, GenerationContext, Strategy, label_rows
from sgen.strategies.generation_flows import AnswerAugmentation


class AnnotateInputs(Flow):
    """Classification: the teacher labels each unlabeled input once (1 query per row)."""

    def capacity(self, data: TaskData) -> int:
        return len(data.unlabeled)

    def run_round(self, ctx: GenerationContext, items: range) -> list[SyntheticRow]:
        inputs = [ctx.data.unlabeled[i] for i in items]
        rows = [SyntheticRow(text=e.text, label=None, strategy="annotate", parse_status="pending", source_id=e.id)
                for e in inputs]
        label_rows(ctx, rows, [e.id for e in inputs])
        return rows


class NewAnswer(Strategy):
    """answers_per_question caps the answers per seed question on generation tasks (None: as the budget allows)."""

    name = "new_answer"

    def __init__(self, answers_per_question: int | None = None) -> None:
        self._flows = {"classification": AnnotateInputs(), "generation": AnswerAugmentation(answers_per_question)}

    def flows(self) -> Mapping[str, Flow]:
        return self._flows
