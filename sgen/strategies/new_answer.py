"""Answer augmentation. For classification this is annotation (Kaddour & Liu): the teacher labels unlabeled inputs."""
from __future__ import annotations

from sgen.records import SyntheticRow, TaskData
from sgen.strategies.base import GenerationContext, Strategy, label_rows


class NewAnswer(Strategy):
    name = "new_answer"

    def capacity(self, data: TaskData) -> int:
        return len(data.unlabeled)  # each unlabeled input is annotated once

    def run_round(self, ctx: GenerationContext, items: range) -> list[SyntheticRow]:
        inputs = [ctx.data.unlabeled[i] for i in items]
        rows = [SyntheticRow(text=e.text, label=None, strategy=self.name, parse_status="pending", source_id=e.id)
                for e in inputs]
        label_rows(ctx, rows, [e.id for e in inputs])
        return rows
