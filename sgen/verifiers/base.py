"""A verifier filters or corrects synthetic rows; every query it makes is booked under the role 'verifier'."""
from __future__ import annotations

from abc import ABC, abstractmethod


class Verifier(ABC):
    name: str

    @abstractmethod
    def extra_queries(self, labeled_by_teacher: bool) -> int:
        """Queries this verifier adds per item, so strategies can plan within the budget."""

    @abstractmethod
    def verify(self, rows, ctx) -> None:
        """Update rows in place: label, kept, and a `verifier` note explaining the decision."""

    def check(self, strategy: str, kind: str) -> None:  # noqa: B027 - optional hook
        """Fail before any query when this verifier cannot check rows of `strategy` on a `kind` task."""


class NoVerifier(Verifier):
    name = "none"

    def extra_queries(self, labeled_by_teacher: bool) -> int:
        return 0

    def verify(self, rows, ctx) -> None:
        return None
