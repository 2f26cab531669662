"""The student contract: train a fresh model on seed + synthetic examples, score it on the test set."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sgen.records import Example


@dataclass
class StudentResult:
    """What one training run of a student reports."""

    scores: dict[str, float]  # the task's scores on the test set (accuracy; macro_f1 and more where they apply)
    train_steps: int
    train_loss_final: float
    precision: str  # the resolved Lightning precision ('bf16-mixed', '32-true', ...)
    seconds_train: float
    seconds_eval: float
    train_loss_first: float | None = None
    train_tokens: int | None = None

    def metrics(self) -> dict[str, Any]:
        """The fields metrics.json reports (the seconds go to the run's stage timings instead)."""
        optional = {"train_loss_first": self.train_loss_first, "train_tokens": self.train_tokens}
        return {**self.scores, **{k: v for k, v in optional.items() if v is not None},
                "train_loss_final": self.train_loss_final, "train_steps": self.train_steps,
                "student_precision": self.precision}


class Student(ABC):
    """Settings of a student; `train_and_evaluate` builds a fresh model each time, so runs never share weights."""

    #: The task kinds this student can learn.
    kinds: tuple[str, ...]

    @abstractmethod
    def train_and_evaluate(self, train: Sequence[Example], test: Sequence[Example], labels: Sequence[str],
                           seed: int, loggers: list | None = None, task=None,
                           callbacks: list | None = None) -> StudentResult:
        """Fit a fresh model on `train`, score it on `test`; `callbacks` go to the Lightning Trainer."""

    #: Whether embed() comes from pretrained weights: a random encoder (the tiny students) maps unrelated texts
    #: close together, so its cosine says nothing about duplicates (its diversity score is still comparable).
    pretrained_encoder: bool = False

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """One vector per text from the student's pretrained encoder (before any training), for the contamination
        audit and the diversity score; None for a student without an encoder."""
        return None

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """Resolved settings that change the trained model (the config says 'auto', this says what it meant)."""
