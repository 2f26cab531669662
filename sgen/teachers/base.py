"""The interface every teacher backend implements: load once, then generate completions for chat prompts."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from sgen.records import Completion, GenerationParams, Messages


PARTIAL_ATTR = "partial_completions"


def with_partial(error: BaseException, completions: list[Completion | None]) -> BaseException:
    """Attach the completions of a batch that did arrive (None where a prompt failed for good) to the error that
    stopped it: they were paid for, so the caller keeps them (the query cache stores them) before re-raising."""
    setattr(error, PARTIAL_ATTR, completions)
    return error


def partial_completions(error: BaseException) -> list[Completion | None] | None:
    return getattr(error, PARTIAL_ATTR, None)


class Teacher(ABC):
    """A text generator used as teacher, augmenter or verifier. Backends do not count queries; the ledger does."""

    #: Identifies the model and its weights; part of every query-cache key.
    model_id: str = "unknown"

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load weights or open connections; called once before the first generate."""

    @abstractmethod
    def generate(self, prompts: Sequence[Messages], params: GenerationParams, seed: int = 0) -> list[Completion]:
        """Return one completion per prompt, in order; on a failure, attach what did arrive with `with_partial`."""
