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


#: Tokens a chat template may add around the messages' text (role markers, a default system prompt), and per message.
TEMPLATE_TOKENS, MESSAGE_TOKENS = 64, 8


def prompt_tokens_bound(prompt: Messages) -> int:
    """An upper bound on the prompt tokens any backend bills for this prompt, without its tokenizer: a byte-level
    BPE or byte-fallback token covers at least one byte, plus what a chat template adds. A dollar budget reserves
    each query's worst case from it, so it must never undercount; the real count settles the reservation."""
    text = sum(len((m.get("content") or "").encode("utf-8")) for m in prompt)
    return text + MESSAGE_TOKENS * len(prompt) + TEMPLATE_TOKENS


def checked_price(prompt: float | None, completion: float | None, where: str = "teacher.backend") -> dict | None:
    """USD per million prompt and completion tokens, both given (or both None: unknown) and >= 0."""
    if (prompt is None) != (completion is None):
        raise ValueError(f"set both {where}.price_per_million_prompt_tokens and price_per_million_completion_tokens, "
                         "or neither")
    if prompt is None:
        return None
    for kind, value in (("prompt", prompt), ("completion", completion)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{where}.price_per_million_{kind}_tokens must be a number >= 0 (USD per million "
                             f"tokens), got {value!r}")
    return {"prompt": float(prompt), "completion": float(completion)}


class Teacher(ABC):
    """A text generator used as teacher, augmenter or verifier. Backends do not count queries; the ledger does."""

    #: Identifies the model and its weights; part of every query-cache key.
    model_id: str = "unknown"
    #: USD per million prompt and completion tokens; None when unknown. Local weights cost no money per query
    #: unless a user prices them (GPU-hours per million tokens) to compare them with an API under a dollar budget.
    price: dict[str, float] | None = {"prompt": 0.0, "completion": 0.0}

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load weights or open connections; called once before the first generate."""

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """USD for these tokens at this backend's price; None when the price is unknown."""
        if self.price is None:
            return None
        return (prompt_tokens * self.price["prompt"] + completion_tokens * self.price["completion"]) / 1e6

    def worst_cost_usd(self, prompt: Messages, max_new_tokens: int) -> float | None:
        """The most one query can cost: its prompt's token bound and every token up to max_new_tokens."""
        return self.cost_usd(prompt_tokens_bound(prompt), int(max_new_tokens))

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what load() took (weights, engines, connections); a later load() takes them again."""

    @abstractmethod
    def generate(self, prompts: Sequence[Messages], params: GenerationParams,
                 seeds: Sequence[int] | None = None, on_result: ResultHook | None = None) -> list[Completion]:
        """Return one completion per prompt, in order; on a failure, attach what did arrive with `with_partial`.

        `seeds[i]` seeds prompt i's own random stream, so its sample does not depend on which other prompts share
        the call, the batch or the engine's schedule (the metered client derives it from the query's cache key).
        Backends that finish prompts one by one call `on_result` for each as it finishes; others may not call it."""
