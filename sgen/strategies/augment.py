"""The one round behind every strategy that writes with the augmenter and then has the teacher label it.

Rephrase and new_question share it for both task kinds: the augmenter writes one text per item, the texts that
parse are screened (optionally) and then labeled (classification) or answered (generation) by the teacher. A flow says
only what differs: which items and prompts, how a written text parses, and how it is labeled.
"""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

from sgen.records import Example, Messages, SyntheticRow
from sgen.strategies.base import Flow, GenerationContext


@dataclass
class Draft:
    """One item before the augmenter writes it."""

    item: int  # the index in the flow's fixed item order
    prompt: Messages
    sample: int  # which draw of this prompt (its query's sample index)
    source: Example | None = None  # the seed example it rewrites or starts from
    target_label: str | None = None  # what a faithful text should be labeled (never shown to the teacher)
    kept_label: str | None = None  # the label the row keeps when the teacher does not label it


class AugmentThenLabel(Flow):
    """Write (augmenter), parse, screen, label (teacher): one query per step; parse failures keep their raw text."""

    strategy: str  # the rows' strategy
    purpose: str  # the augmenter queries' purpose
    records_draw: bool = True  # whether a row records its draw as sample_index
    labels_written: bool = True  # whether the teacher labels what the augmenter wrote

    @abstractmethod
    def drafts(self, ctx: GenerationContext, items: range) -> list[Draft]:
        """The items of this round, with their augmenter prompts."""

    @abstractmethod
    def parse(self, ctx: GenerationContext, text: str, draft: Draft) -> tuple[str | None, str]:
        """The written text (None when it does not parse) and a status."""

    @abstractmethod
    def label(self, ctx: GenerationContext, rows: list[SyntheticRow], drafts: list[Draft]) -> None:
        """Have the teacher label (or answer) each parsed row."""

    def screen(self, ctx: GenerationContext, rows: list[SyntheticRow]) -> None:  # noqa: B027 - optional hook
        """Drop parsed rows before the teacher pays for them (new_question's answerability check)."""

    def run_round(self, ctx: GenerationContext, items: range) -> list[SyntheticRow]:
        drafts = self.drafts(ctx, items)
        queries = ctx.augmenter.ask([d.prompt for d in drafts], ctx.text_params, self.purpose,
                                    [d.sample for d in drafts])
        rows = []
        for draft, query in zip(drafts, queries, strict=True):
            text, status = self.parse(ctx, query.text, draft)
            rows.append(SyntheticRow(
                text=text or query.text, label=draft.kept_label if text else None, strategy=self.strategy,
                parse_status=status, source_id=draft.source.id if draft.source is not None else None,
                target_label=draft.target_label, queries=[query], kept=text is not None,
                sample_index=draft.sample if self.records_draw else 0))
        self.screen(ctx, [r for r in rows if r.kept])
        if self.labels_written:
            kept = [(row, draft) for row, draft in zip(rows, drafts, strict=True) if row.kept]
            self.label(ctx, [row for row, _ in kept], [draft for _, draft in kept])
        return rows
