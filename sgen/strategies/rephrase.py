"""Question rephrase: the augmenter rewrites a seed input keeping its meaning.

The seed label is kept by default (1 query per row). With relabel=true the teacher labels the rewrite (2 queries).
"""
from __future__ import annotations

from sgen.records import SyntheticRow
from sgen.strategies.base import GenerationContext, Strategy, label_rows


class Rephrase(Strategy):
    name = "rephrase"

    def __init__(self, relabel: bool = False) -> None:
        self.relabel = relabel
        self.base_cost = 2 if relabel else 1
        self.labeled_by_teacher = relabel

    def run_round(self, ctx: GenerationContext, items: range) -> list[SyntheticRow]:
        seed = ctx.data.seed
        sources = [seed[i % len(seed)] for i in items]
        # The n-th pass over the seed set is sample n: same prompt, a different draw.
        samples = [i // len(seed) for i in items]
        queries = ctx.augmenter.ask([ctx.prompts.rephrase(e) for e in sources], ctx.text_params, "rephrase", samples)
        rows = []
        for source, query in zip(sources, queries, strict=True):
            text, status = ctx.prompts.parse_text(query.text, source.text)
            rows.append(SyntheticRow(text=text or query.text, label=source.label if text else None,
                                     strategy=self.name, parse_status=status, source_id=source.id,
                                     target_label=source.label, queries=[query], kept=text is not None))
        if self.relabel:
            ok = [(r, f"{r.source_id}:{i}") for r, i in zip(rows, items, strict=True) if r.kept]
            label_rows(ctx, [r for r, _ in ok], [k for _, k in ok])
        return rows
