"""A small real generation task for the student tests: single-digit sums, answered with the digit.

The tiny word-level tokenizer knows the digits, '+' and '=', so every question and answer is in its vocabulary and
a tiny model can memorise the set in a few dozen steps.
"""
from __future__ import annotations

import random
import re
from collections.abc import Sequence

import pytest

from sgen.records import Example, Messages, TaskData
from sgen.tasks.base import Task


class DigitSumTask(Task):
    """Question 'a + b =' -> answer 'a+b' for sums below ten; scored by exact match of the first number."""

    name = "digit_sum"
    kind = "generation"

    def __init__(self, seed_size: int = 12, test_size: int = 8) -> None:
        self.seed_size, self.test_size = seed_size, test_size

    def load(self, seed: int) -> TaskData:
        pairs = [(a, b) for a in range(10) for b in range(10) if a + b < 10]
        random.Random(seed).shuffle(pairs)
        examples = [Example(f"q-{a}-{b}", f"{a} + {b} =", str(a + b)) for a, b in pairs]
        return TaskData(seed=examples[: self.seed_size], unlabeled=[],
                        test=examples[self.seed_size : self.seed_size + self.test_size], labels=[])

    def sft_pairs(self, examples: Sequence[Example]) -> list[tuple[Messages, str]]:
        return [([{"role": "user", "content": e.text}], e.label) for e in examples]

    def answer_key(self, label: str | None) -> str | None:
        m = re.search(r"-?\d+", label or "")
        return m.group(0) if m else None


@pytest.fixture
def digit_task() -> DigitSumTask:
    return DigitSumTask()


@pytest.fixture
def digit_data(digit_task) -> TaskData:
    return digit_task.load(0)
