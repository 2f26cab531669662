"""Question rephrase: the augmenter rewrites a seed input keeping its meaning.

Classification keeps the seed label by default (relabel=false, 1 query per row); relabel=true asks the teacher
(2 queries). Generation tasks always have the teacher answer the rewritten question (2 queries per row, as in
Chan et al. 2024); relabel=null picks the default for the task kind.
"""
from __future__ import annotations

from collections.abc import Mapping

from sgen.records import SyntheticRow, TaskData
from sgen.strategies.base import Flow, GenerationContext, Strategy, label_rows
from sgen.strategies.generation_flows import RephraseQuestions


class RephraseInputs(Flow):
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
        for source, query, sample in zip(sources, queries, samples, strict=True):
            text, status = ctx.prompts.parse_text(query.text, source.text)
            rows.append(SyntheticRow(text=text or query.text, label=source.label if text else None,
                                     strategy="rephrase", parse_status=status, source_id=source.id,
                                     target_label=source.label, queries=[query], kept=text is not None,
                                     sample_index=sample))
        if self.relabel:
            ok = [(r, f"{r.source_id}:{i}") for r, i in zip(rows, items, strict=True) if r.kept]
            label_rows(ctx, [r for r, _ in ok], [k for _, k in ok])
        return rows


class Rephrase(Strategy):
    name = "rephrase"

    def __init__(self, relabel: bool | None = None) -> None:
        if relabel is False:
            generation: Flow | None = None  # a rewritten math question needs a new answer: no 1-query variant
        else:
            generation = RephraseQuestions()
        self._flows: dict[str, Flow] = {"classification": RephraseInputs(bool(relabel))}
        if generation is not None:
            self._flows["generation"] = generation
        self.relabel = relabel

    def flows(self) -> Mapping[str, Flow]:
        return self._flows

    def check(self, data: TaskData, budget: int, verifier) -> None:
        if data.kind == "generation" and self.relabel is False:
            raise ValueError("strategy.relabel=false keeps the seed label, which only classification tasks allow; "
                             "on generation tasks the teacher answers each rephrased question: use "
                             "strategy.relabel=null (default) or true")
        super().check(data, budget, verifier)
