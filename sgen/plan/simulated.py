"""A teacher backend that answers at once, for the plan's dry run of the real strategy code.

Each query it is asked (a query the cache does not hold, which the real run would pay for) gets a completion chosen
by its own seed (from its cache key), so the same query gets the same answer in every job of a plan:
- a real completion of the same backend and generation settings, recorded by an earlier run or the probe
  (its text parses, or fails to parse, as the teacher's own answers do; its length is the teacher's), else
- a placeholder that every parser of the task accepts, as long as max_new_tokens (an upper bound).
A text the strategy builds a later prompt from (a rewrite, a new input) starts with the query's seed, so two queries
never write the same text: a real teacher's samples differ, and equal texts would make equal label prompts that the
cache answers once.
It logs every call with the features the time model needs, as sgen.throughput logs real calls.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sgen.records import Completion, GenerationParams, Messages
from sgen.teachers.base import ResultHook, Teacher, default_seeds
from sgen.throughput import call_features, params_key

log = logging.getLogger(__name__)

Sample = tuple[str, int]  # (raw completion text, completion tokens)


@dataclass
class PlannedCall:
    """One backend call the real run will make: which backend, which settings, its time features."""

    setup: str
    params: str
    n: int
    x: list[float]
    prompt_tokens: int
    completion_tokens: int


@dataclass
class FirstPrompts:
    """The first prompts each (task, backend, settings) is asked in a plan: what a probe measures on."""

    params: dict[tuple[str, str, str], GenerationParams] = field(default_factory=dict)
    prompts: dict[tuple[str, str, str], list[Messages]] = field(default_factory=dict)

    def add(self, task: str, setup: str, params: GenerationParams, prompts: Sequence[Messages], limit: int) -> None:
        key = (task, setup, params_key(params))
        if key not in self.prompts:
            self.params[key] = params
            self.prompts[key] = list(prompts[:limit])


class PromptTokens:
    """Prompt tokens as the backend counts them: its tokenizer and chat template, else about 4 characters a token."""

    def __init__(self, tokenizer=None) -> None:
        self.tokenizer = tokenizer
        self.exact = tokenizer is not None
        self._memo: dict[str, int] = {}

    def count(self, prompts: Sequence[Messages]) -> list[int]:
        out = []
        for prompt in prompts:
            key = json.dumps(prompt, sort_keys=True, ensure_ascii=False)
            if key not in self._memo:
                self._memo[key] = self._count(prompt)
            out.append(self._memo[key])
        return out

    def _count(self, prompt: Messages) -> int:
        if self.tokenizer is None:
            return sum(len(m.get("content") or "") for m in prompt) // 4 + 4 * len(prompt)
        text = self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


class SimulatedTeacher(Teacher):
    """Stands in for one backend (`setup`) during one job's dry run on `task`."""

    def __init__(self, model_id: str, setup: str, task: str, batch_size: int | None, tokens: PromptTokens,
                 samples: Callable[[str, str], list[Sample]], placeholder: Callable[[int], str],
                 calls: list[PlannedCall], first: FirstPrompts) -> None:
        self.model_id = model_id
        self.setup, self.task, self.batch_size, self.tokens = setup, task, batch_size, tokens
        self.samples, self.placeholder = samples, placeholder
        self.calls, self.first = calls, first
        self.simulated_with_placeholder = 0
        self.distinct: set[str] = set()  # params keys of texts that later prompts embed (the text settings)

    def generate(self, prompts: Sequence[Messages], params: GenerationParams,
                 seeds: Sequence[int] | None = None, on_result: ResultHook | None = None) -> list[Completion]:
        if not prompts:
            return []
        key = params_key(params)
        pool = self.samples(self.setup, key)
        answers = [self._answer(pool, seed, params, key in self.distinct) for seed in default_seeds(prompts, seeds)]
        prompt_tokens = self.tokens.count(prompts)
        completion_tokens = [tokens for _, tokens in answers]
        self.calls.append(PlannedCall(self.setup, params_key(params), len(prompts),
                                      call_features(prompt_tokens, completion_tokens, self.batch_size),
                                      sum(prompt_tokens), sum(completion_tokens)))
        self.first.add(self.task, self.setup, params, prompts, self.batch_size or 16)
        return [Completion(text, p, c) for (text, c), p in zip(answers, prompt_tokens, strict=True)]

    def _answer(self, pool: list[Sample], seed: int, params: GenerationParams, distinct: bool) -> Sample:
        if pool:
            text, tokens = pool[seed % len(pool)]
        else:
            self.simulated_with_placeholder += 1
            text, tokens = self.placeholder(seed), int(params.max_new_tokens)
        if distinct and text.strip():  # an empty answer stays empty: it fails to parse as the real one did
            text = f"{seed:08x} {text}"
        return text, tokens


def placeholder_for(kind: str, labels: Sequence[str]) -> Callable[[int], str]:
    """A completion every parser of the task accepts: on classification a label word (also a valid new text), on
    generation a question that is answered ("yes" passes the answerability check, "#### 1" the answer parser)."""
    if kind == "classification" and labels:
        return lambda seed: str(labels[seed % len(labels)])
    return lambda seed: f"Is the answer {seed}, yes? How many are there?\n#### {seed}"
