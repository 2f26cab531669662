"""New question: the augmenter writes a new input, the teacher labels (classification) or answers (generation) it."""
from __future__ import annotations

from collections.abc import Mapping

from sgen.records import SyntheticRow
from sgen.strategies.base import Flow, GenerationContext, Strategy, label_rows
from sgen.strategies.generation_flows import NewQuestions


class NewInputs(Flow):
    """Classification: a new input for a target label from seed exemplars, then a teacher label (2 queries/row)."""

    base_cost = 2  # write + label

    def run_round(self, ctx: GenerationContext, items: range) -> list[SyntheticRow]:
        labels = sorted({e.label for e in ctx.data.seed})  # target labels cycle over those the seed set shows
        targets = [labels[i % len(labels)] for i in items]
        prompts = [ctx.prompts.new_input(t, ctx.exemplars(f"new:{i}", t)) for t, i in zip(targets, items, strict=True)]
        queries = ctx.augmenter.ask(prompts, ctx.text_params, "new_input", [i // len(labels) for i in items])
        rows = []
        for target, query in zip(targets, queries, strict=True):
            text, status = ctx.prompts.parse_text(query.text)
            rows.append(SyntheticRow(text=text or query.text, label=None, strategy="new_question", parse_status=status,
                                     target_label=target, queries=[query], kept=text is not None))
        ok = [(r, f"new:{i}") for r, i in zip(rows, items, strict=True) if r.kept]
        label_rows(ctx, [r for r, _ in ok], [k for _, k in ok])
        return rows


class NewQuestion(Strategy):
    """check_answerable (generation only) adds one augmenter query per row that rejects ill-formed questions."""

    name = "new_question"

    def __init__(self, check_answerable: bool = False) -> None:
        self._flows = {"classification": NewInputs(), "generation": NewQuestions(check_answerable)}

    def flows(self) -> Mapping[str, Flow]:
        return self._flows
