"""Flows for classification tasks (text -> label), as Kaddour & Liu (2024) and Chan et al. (2024) define the strategies.

Item i of a seed-set flow belongs to seed example i mod n, draw i div n, so every item has its own cache key and a
rerun draws the same samples. Every row keeps all its queries and its raw text when a parse fails.
"""
from __future__ import annotations

from sgen.records import SyntheticRow
from sgen.strategies.augment import AugmentThenLabel, Draft
from sgen.strategies.base import GenerationContext, PoolFlow


def label_rows(ctx: GenerationContext, rows: list[SyntheticRow], keys: list[str]) -> None:
    """Ask the teacher to label each row's text (one query each) and record label and status."""
    if not rows:
        return
    prompts = [ctx.label_prompt(r.text, k) for r, k in zip(rows, keys, strict=True)]
    for row, query in zip(rows, ctx.teacher.ask(prompts, ctx.label_params, "label"), strict=True):
        row.queries.append(query)
        row.label, row.parse_status = ctx.prompts.parse_label(query.text)
        row.kept = row.label is not None


class AnnotateInputs(PoolFlow):
    """new_answer and annotate: the teacher labels each unlabeled input once (1 query per row)."""

    def annotate(self, ctx: GenerationContext, rows: list[SyntheticRow], keys: list[str]) -> None:
        label_rows(ctx, rows, keys)


class RephraseInputs(AugmentThenLabel):
    """rephrase: the augmenter rewrites a seed input; it keeps the seed label (1 query per row) or, with relabel,
    the teacher labels the rewrite (2 queries)."""

    strategy = purpose = "rephrase"

    def __init__(self, relabel: bool = False) -> None:
        self.labels_written = self.labeled_by_teacher = relabel
        self.base_cost = 2 if relabel else 1

    def drafts(self, ctx: GenerationContext, items: range) -> list[Draft]:
        seed = ctx.data.seed
        # The n-th pass over the seed set is sample n: same prompt, a different draw.
        return [Draft(i, ctx.prompts.rephrase(source), i // len(seed), source, source.label, source.label)
                for i in items for source in (seed[i % len(seed)],)]

    def parse(self, ctx: GenerationContext, text: str, draft: Draft) -> tuple[str | None, str]:
        return ctx.prompts.parse_text(text, draft.source.text)

    def label(self, ctx: GenerationContext, rows: list[SyntheticRow], drafts: list[Draft]) -> None:
        label_rows(ctx, rows, [f"{d.source.id}:{d.item}" for d in drafts])


class NewInputs(AugmentThenLabel):
    """new_question: a new input for a target label from seed exemplars, then a teacher label (2 queries per row)."""

    strategy, purpose = "new_question", "new_input"
    base_cost = 2  # write + label
    records_draw = False  # each item has its own exemplars, so its own prompt

    def drafts(self, ctx: GenerationContext, items: range) -> list[Draft]:
        labels = sorted({e.label for e in ctx.data.seed})  # target labels cycle over those the seed set shows
        return [Draft(i, ctx.prompts.new_input(target, ctx.exemplars(f"new:{i}", target)), i // len(labels),
                      target_label=target)
                for i in items for target in (labels[i % len(labels)],)]

    def parse(self, ctx: GenerationContext, text: str, draft: Draft) -> tuple[str | None, str]:
        return ctx.prompts.parse_text(text)

    def label(self, ctx: GenerationContext, rows: list[SyntheticRow], drafts: list[Draft]) -> None:
        label_rows(ctx, rows, [f"new:{d.item}" for d in drafts])
