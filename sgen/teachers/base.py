"""The interface every teacher backend implements: load once, then generate completions for chat prompts."""
from __future__ import annotations

from abc import ABC, abstractmethod
import hashlib
import json
from collections.abc import Callable, Sequence

from sgen.records import Completion, GenerationParams, Messages


PARTIAL_ATTR = "partial_completions"

#: Called as `on_result(i, completion)` the moment prompt i's answer is complete, so a caller can keep it (commit it
#: to the query cache) before the rest of the call ends.
ResultHook = Callable[[int, Completion], None]


def with_partial(error: BaseException, completions: list[Completion | None]) -> BaseException:
    """Attach the completions of a batch that did arrive (None where a prompt failed for good) to the error that
    stopped it: they were paid for, so the caller keeps them (the query cache stores them) before re-raising."""
    setattr(error, PARTIAL_ATTR, completions)
    return error


def partial_completions(error: BaseException) -> list[Completion | None] | None:
    return getattr(error, PARTIAL_ATTR, None)


def seed_from_key(key: str) -> int:
    """A query's own sampling seed, from its cache key (a sha256 hex digest): 31 bits, valid for every backend."""
    return int(key[:8], 16) & 0x7FFFFFFF


def default_seeds(prompts: Sequence[Messages], seeds: Sequence[int] | None) -> list[int]:
    """The seeds a backend samples with. Without any, each prompt's seed comes from its text and how often it
    appeared before in the call, so repeats (majority votes) still draw different samples."""
    if seeds is not None:
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
        return [int(s) for s in seeds]
    seen: dict[str, int] = {}
    out = []
    for prompt in prompts:
        blob = json.dumps(prompt, sort_keys=True, ensure_ascii=False)
        seen[blob] = seen.get(blob, -1) + 1
        out.append(seed_from_key(hashlib.sha256(f"{seen[blob]}:{blob}".encode()).hexdigest()))
    return out


class Teacher(ABC):
    """A text generator used as teacher, augmenter or verifier. Backends do not count queries; the ledger does."""

    #: Identifies the model and its weights; part of every query-cache key.
    model_id: str = "unknown"

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load weights or open connections; called once before the first generate."""

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """USD for these tokens; local weights cost no money per query. A served backend returns its price, or
        None when the price is unknown."""
        return 0.0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what load() took (weights, engines, connections); a later load() takes them again."""

    @abstractmethod
    def generate(self, prompts: Sequence[Messages], params: GenerationParams,
                 seeds: Sequence[int] | None = None, on_result: ResultHook | None = None) -> list[Completion]:
        """Return one completion per prompt, in order; on a failure, attach what did arrive with `with_partial`.

        `seeds[i]` seeds prompt i's own random stream, so its sample does not depend on which other prompts share
        the call, the batch or the engine's schedule (the metered client derives it from the query's cache key).
        Backends that finish prompts one by one call `on_result` for each as it finishes; others may not call it."""
