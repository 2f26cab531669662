"""Answer augmentation. For classification this is annotation (Kaddour & Liu): the teacher labels unlabeled inputs;
for generation tasks the teacher writes new chain-of-thought answers to the seed questions (Chan et al. 2024)."""
from __future__ import annotations

from collections.abc import Mapping

from sgen.strategies.base import Flow, Strategy
from sgen.strategies.classification_flows import AnnotateInputs
from sgen.strategies.generation_flows import AnswerAugmentation


class NewAnswer(Strategy):
    """answers_per_question caps the answers per seed question on generation tasks (None: as the budget allows)."""

    name = "new_answer"

    def __init__(self, answers_per_question: int | None = None) -> None:
        self._flows = {"classification": AnnotateInputs(), "generation": AnswerAugmentation(answers_per_question)}

    def flows(self) -> Mapping[str, Flow]:
        return self._flows
