"""Question rephrase: the augmenter rewrites a seed input keeping its meaning.

Classification keeps the seed label by default (relabel=false, 1 query per row); relabel=true asks the teacher
(2 queries). Generation tasks always have the teacher answer the rewritten question (2 queries per row, as in
Chan et al. 2024); relabel=null picks the default for the task kind.
"""
from __future__ import annotations

from collections.abc import Mapping

from sgen.records import TaskData
from sgen.strategies.base import Flow, Strategy
from sgen.strategies.classification_flows import RephraseInputs
from sgen.strategies.generation_flows import RephraseQuestions


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
