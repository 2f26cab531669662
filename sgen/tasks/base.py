"""A task owns its data splits, its prompts (record -> chat prompt), its parsers (raw text -> record) and its scoring.

Strategies, verifiers, students and statistics ask the task (`answer_key`, `score`, `evaluate`) instead of branching
on its kind, so a second generation task is one new module.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from sgen.audit.contamination import ContaminationSettings
from sgen.records import Example, Messages, TaskData


def check_sizes(seed_size: int, test_size: int | None, unlabeled_size: int | None, few_shot: int) -> None:
    """The task's size settings, checked when the task is built (before any query)."""
    if seed_size < 1:
        raise ValueError(f"task.seed_size must be >= 1, got {seed_size}")
    if test_size is not None and test_size < 1:
        raise ValueError(f"task.test_size must be >= 1, or null for the whole test split, got {test_size}")
    if unlabeled_size is not None and unlabeled_size < 0:
        raise ValueError(f"task.unlabeled_size must be >= 0, or null for every row left, got {unlabeled_size}")
    if few_shot < 0:
        raise ValueError(f"task.few_shot must be >= 0 (0 = zero-shot prompts), got {few_shot}")


def label_itself(label: str | None) -> str | None:
    """The answer key of a classification label: the label."""
    return label


class Task(ABC):
    name: str
    kind: str  # "classification" or "generation"
    seed_size: int
    few_shot: int = 4
    # How many fixed few-shot blocks the teacher's label / answer prompts share (None: a fresh draw per item).
    few_shot_sets: int | None = None
    # Sampling settings laid over the teacher's label_generation (answers) and text_generation (questions).
    answer_generation: Mapping[str, Any] = MappingProxyType({})
    question_generation: Mapping[str, Any] = MappingProxyType({})
    # The contamination audit (sgen.audit): drop synthetic rows that duplicate a test item before training, and the
    # thresholds that decide what a duplicate is.
    decontaminate: bool = False
    contamination: ContaminationSettings = ContaminationSettings()

    def set_audit(self, decontaminate: bool, contamination: Mapping[str, Any] | None) -> None:
        self.decontaminate = bool(decontaminate)
        self.contamination = ContaminationSettings(**dict(contamination or {}))

    @abstractmethod
    def load(self, seed: int) -> TaskData:
        """Seed set, unlabeled pool and test set, deterministic in `seed`. Fails fast on impossible sizes."""

    @abstractmethod
    def sft_pairs(self, examples: Sequence[Example]) -> list[tuple[Messages, str]]:
        """(chat prompt, target completion) pairs for supervised fine-tuning: of a generative student, or of the
        teacher on the seed set (Kaddour & Liu). The prompt is what the model sees at inference time."""

    def answer_key(self, label: str | None) -> str | None:
        """What two labels share when they agree (majority votes, the gold check, the majority baseline): the label
        itself, or for a worked answer its final result. None: no answer."""
        return label_itself(label)

    def score(self, prediction: str, gold: str) -> bool:
        """Whether a student's generated text answers an item whose gold label is `gold`."""
        key = self.answer_key(prediction)
        return key is not None and key == self.answer_key(gold)

    def evaluate(self, predictions: Sequence[str], test: Sequence[Example]) -> dict[str, float]:
        """A student's scores from its generated texts for `test` (exact match through `score`)."""
        hits = [self.score(p, e.label or "") for p, e in zip(predictions, test, strict=True)]
        return {"accuracy": sum(hits) / max(len(hits), 1)}
