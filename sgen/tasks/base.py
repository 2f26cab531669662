"""A task owns its data splits, its prompts (record -> chat prompt) and its parsers (raw text -> record)."""
from __future__ import annotations

from abc import ABC, abstractmethod

from sgen.records import TaskData


class Task(ABC):
    name: str
    kind: str  # "classification" or "generation"
    seed_size: int

    @abstractmethod
    def load(self, seed: int) -> TaskData:
        """Seed set, unlabeled pool and test set, deterministic in `seed`. Fails fast on impossible sizes."""

    def fingerprint(self) -> dict:
        """What identifies the data a run sees (for caches keyed on the seed set)."""
        return {"name": self.name, "seed_size": self.seed_size}
