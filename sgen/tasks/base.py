"""A task owns its data splits, its prompts (record -> chat prompt) and its parsers (raw text -> record)."""
from __future__ import annotations

from abc import ABC, abstractmethod

from collections.abc import Sequence

from sgen.records import Example, Messages, TaskData


class Task(ABC):
    name: str
    kind: str  # "classification" or "generation"
    seed_size: int
    few_shot: int = 4
    # How many fixed few-shot blocks the teacher's label / answer prompts share (None: a fresh draw per item).
    few_shot_sets: int | None = None

    @abstractmethod
    def load(self, seed: int) -> TaskData:
        """Seed set, unlabeled pool and test set, deterministic in `seed`. Fails fast on impossible sizes."""

    @abstractmethod
    def sft_pairs(self, examples: Sequence[Example]) -> list[tuple[Messages, str]]:
        """(chat prompt, target completion) pairs for supervised fine-tuning: of a generative student, or of the
        teacher on the seed set (Kaddour & Liu). The prompt is what the model sees at inference time."""
