"""New question: the augmenter writes a new input, the teacher labels (classification) or answers (generation) it."""
from __future__ import annotations

from collections.abc import Mapping

from sgen.strategies.base import Flow, Strategy
from sgen.strategies.classification_flows import NewInputs
from sgen.strategies.generation_flows import NewQuestions


class NewQuestion(Strategy):
    """check_answerable (generation only) adds one augmenter query per row that rejects ill-formed questions."""

    name = "new_question"

    def __init__(self, check_answerable: bool = False) -> None:
        self._flows = {"classification": NewInputs(), "generation": NewQuestions(check_answerable)}

    def flows(self) -> Mapping[str, Flow]:
        return self._flows
