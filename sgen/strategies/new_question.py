"""New question: the augmenter writes a new input for a target label from seed exemplars; the teacher labels it."""
from __future__ import annotations

from sgen.records import SyntheticRow
from sgen.strategies.base import GenerationContext, Strategy, label_rows


class NewQuestion(Strategy):
    name = "new_question"
    base_cost = 2  # write + label

    def run_round(self, ctx: GenerationContext, items: range) -> list[SyntheticRow]:
        labels = sorted({e.label for e in ctx.data.seed})  # target labels cycle over those the seed set shows
        targets = [labels[i % len(labels)] for i in items]
        prompts = [ctx.prompts.new_input(t, ctx.exemplars(f"new:{i}", t)) for t, i in zip(targets, items, strict=True)]
        queries = ctx.augmenter.ask(prompts, ctx.text_params, "new_input", [i // len(labels) for i in items])
        rows = []
        for target, query in zip(targets, queries, strict=True):
            text, status = ctx.prompts.parse_text(query.text)
            rows.append(SyntheticRow(text=text or query.text, label=None, strategy=self.name, parse_status=status,
                                     target_label=target, queries=[query], kept=text is not None))
        ok = [(r, f"new:{i}") for r, i in zip(rows, items, strict=True) if r.kept]
        label_rows(ctx, [r for r, _ in ok], [k for _, k in ok])
        return rows
