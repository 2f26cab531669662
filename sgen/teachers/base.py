"""The interface every teacher backend implements: load once, then generate completions for chat prompts."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from sgen.records import Completion, GenerationParams, Messages


class Teacher(ABC):
    """A text generator used as teacher, augmenter or verifier. Backends do not count queries; the ledger does."""

    #: Identifies the model and its weights; part of every query-cache key.
    model_id: str = "unknown"

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load weights or open connections; called once before the first generate."""

    @abstractmethod
    def generate(self, prompts: Sequence[Messages], params: GenerationParams, seed: int = 0) -> list[Completion]:
        """Return one completion per prompt, in order."""
