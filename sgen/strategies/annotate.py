"""Annotate (Kaddour & Liu 2024): the teacher labels or answers unlabeled pool inputs, one query per row.

For classification this is the same flow as new_answer; for generation tasks it answers the pool's questions,
whose gold answers stay hidden and only grade the teacher afterwards.
"""
from __future__ import annotations

from collections.abc import Mapping

from sgen.strategies.base import Flow, Strategy
from sgen.strategies.classification_flows import AnnotateInputs
from sgen.strategies.generation_flows import AnswerPool


class Annotate(Strategy):
    name = "annotate"

    def __init__(self) -> None:
        self._flows = {"classification": AnnotateInputs(), "generation": AnswerPool()}

    def flows(self) -> Mapping[str, Flow]:
        return self._flows
