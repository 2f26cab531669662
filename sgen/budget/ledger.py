"""The query ledger: every teacher, augmenter and verifier call is one query, and the budget is never overspent."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sgen.records import QueryRecord

ROLES = ("teacher", "augmenter", "verifier", "judge")


class BudgetExceeded(RuntimeError):
    """Raised when a caller asks for more queries than the budget has left (a planning bug, never a user error)."""


@dataclass
class QueryLedger:
    budget: int
    used: int = 0
    cached: int = 0
    by_role: Counter = field(default_factory=Counter)
    prompt_tokens: Counter = field(default_factory=Counter)
    completion_tokens: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.budget < 0:
            raise ValueError(f"budget must be >= 0 queries, got {self.budget}")

    @property
    def remaining(self) -> int:
        return self.budget - self.used

    def reserve(self, n: int) -> None:
        """Check that n more queries fit; call before spending them."""
        if n > self.remaining:
            raise BudgetExceeded(f"asked for {n} queries but only {self.remaining} of {self.budget} remain")

    def record(self, query: QueryRecord) -> None:
        if query.role not in ROLES:
            raise ValueError(f"unknown role {query.role!r}; valid roles: {', '.join(ROLES)}")
        self.reserve(1)
        self.used += 1
        self.cached += int(query.cached)
        self.by_role[query.role] += 1
        self.prompt_tokens[query.role] += query.prompt_tokens
        self.completion_tokens[query.role] += query.completion_tokens

    def summary(self) -> dict:
        return {
            "budget": self.budget,
            "queries_used": self.used,
            "queries_paid": self.used - self.cached,
            "queries_cached": self.cached,
            "queries_by_role": {role: self.by_role.get(role, 0) for role in ROLES},
            "prompt_tokens_by_role": {role: self.prompt_tokens.get(role, 0) for role in ROLES},
            "completion_tokens_by_role": {role: self.completion_tokens.get(role, 0) for role in ROLES},
            "prompt_tokens": sum(self.prompt_tokens.values()),
            "completion_tokens": sum(self.completion_tokens.values()),
        }


@dataclass
class BudgetScope:
    """A share of the ledger's budget (for one strategy of a mix); spending still goes through the ledger."""

    ledger: QueryLedger
    limit: int
    start: int = -1

    def __post_init__(self) -> None:
        if self.start < 0:
            self.start = self.ledger.used
        self.limit = min(self.limit, self.ledger.remaining)

    @property
    def spent(self) -> int:
        return self.ledger.used - self.start

    @property
    def remaining(self) -> int:
        return min(self.limit - self.spent, self.ledger.remaining)
