"""The query ledger: every teacher, augmenter and verifier call is one query, and the budget is never overspent.

A budget is a count of queries, a cap in dollars (`usd`), or both. Under a dollar cap a query is sent only once its
worst case (its prompt's token bound and all of max_new_tokens, at its backend's price) is held; its real usage
then settles the hold, so spend never exceeds the cap and what a query did not use funds the next ones.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sgen.records import QueryRecord

ROLES = ("teacher", "augmenter", "verifier", "judge")


class BudgetExceeded(RuntimeError):
    """Raised when a caller asks for more queries than the budget has left (a planning bug, never a user error)."""


@dataclass
class QueryLedger:
    budget: int | None  # queries; None: no count, only the dollar cap
    usd: float | None = None  # the dollar cap; None: no cap
    used: int = 0
    cached: int = 0
    by_role: Counter = field(default_factory=Counter)
    prompt_tokens: Counter = field(default_factory=Counter)
    completion_tokens: Counter = field(default_factory=Counter)
    spent_usd: float = 0.0
    usd_by_role: Counter = field(default_factory=Counter)
    held_usd: float = 0.0  # worst cases of queries sent and not yet settled
    dearest_usd: float = 0.0  # the most one query has cost: what a round plans per query
    refused: int = 0  # queries not sent: the dollars left could not hold their worst case

    def __post_init__(self) -> None:
        if self.budget is None and self.usd is None:
            raise ValueError("a budget needs a query count, a dollar cap or both")
        if self.budget is not None and self.budget < 0:
            raise ValueError(f"budget must be >= 0 queries, got {self.budget}")
        if self.usd is not None and not (math.isfinite(self.usd) and self.usd >= 0):
            raise ValueError(f"budget.usd must be a number of dollars >= 0, got {self.usd}")

    @property
    def remaining(self) -> int | float:
        """Queries left by count (infinite without one); what dollars allow is `BudgetScope.items`."""
        return math.inf if self.budget is None else self.budget - self.used

    @property
    def usd_left(self) -> float:
        return math.inf if self.usd is None else self.usd - self.spent_usd - self.held_usd

    def hold(self, worst: Sequence[float]) -> int:
        """Hold the worst cases of the longest prefix of these queries that the dollars left cover; return its
        length (0: not even the first fits)."""
        if self.usd is None:
            return len(worst)
        left, n = self.usd_left, 0
        while n < len(worst) and worst[n] <= left:
            left -= worst[n]
            n += 1
        self.held_usd += sum(worst[:n])
        return n

    def release(self, usd: float) -> None:
        """End a hold once its queries are booked (settled) or failed."""
        self.held_usd = max(self.held_usd - usd, 0.0)

    def reserve(self, n: int) -> None:
        """Check that n more queries fit; call before spending them."""
        if n > self.remaining:
            raise BudgetExceeded(f"asked for {n} queries but only {self.remaining} of {self.budget} remain")

    def record(self, query: QueryRecord, usd: float = 0.0) -> None:
        """Book one answered query and what it cost (its real usage at its backend's price)."""
        if query.role not in ROLES:
            raise ValueError(f"unknown role {query.role!r}; valid roles: {', '.join(ROLES)}")
        self.reserve(1)
        self.used += 1
        self.spent_usd += usd
        self.usd_by_role[query.role] += usd
        self.dearest_usd = max(self.dearest_usd, usd)
        self.cached += int(query.cached)
        self.by_role[query.role] += 1
        self.prompt_tokens[query.role] += query.prompt_tokens
        self.completion_tokens[query.role] += query.completion_tokens

    def summary(self) -> dict:
        dollars = {} if self.usd is None else {
            "budget_usd": self.usd, "spent_usd": self.spent_usd,
            "spent_usd_by_role": {role: self.usd_by_role.get(role, 0.0) for role in ROLES},
            "queries_refused": self.refused}
        return {
            **dollars,
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
    """A share of the ledger's budget (for one strategy of a mix), in queries and under a dollar cap in dollars;
    spending still goes through the ledger, which alone enforces the caps."""

    ledger: QueryLedger
    limit: int | None  # queries; None: no count
    usd: float | None = None  # this share's dollars; None: whatever the ledger has left
    start: int = -1
    start_usd: float = 0.0

    def __post_init__(self) -> None:
        if self.start < 0:
            self.start = self.ledger.used
            self.start_usd = self.ledger.spent_usd
        self.limit = min(math.inf if self.limit is None else self.limit, self.ledger.remaining)

    @property
    def spent(self) -> int:
        return self.ledger.used - self.start

    @property
    def remaining(self) -> int | float:
        """Queries left of this share's count (infinite without one)."""
        return min(self.limit - self.spent, self.ledger.remaining)

    @property
    def usd_left(self) -> float:
        left = self.ledger.usd_left
        return left if self.usd is None else min(left, self.usd - (self.ledger.spent_usd - self.start_usd))

    def items(self, cost: int) -> int | float:
        """Items of `cost` queries a round may plan: what the count left allows and, under a dollar cap, what the
        dollars left pay for if each query costs as much as the dearest so far (before any: one item, to learn
        it). The plan is an estimate; the holds alone keep spend under the cap."""
        n = self.remaining if self.remaining == math.inf else self.remaining // cost
        ledger = self.ledger
        if ledger.usd is None:
            return n
        usd_left = self.usd_left
        if usd_left <= 0 or ledger.refused:  # a query was refused: what is left no longer pays for a worst case
            return 0
        if ledger.used == 0:
            return min(n, 1)
        if ledger.dearest_usd <= 0:  # every query so far was free
            return n
        return min(n, int(usd_left // (cost * ledger.dearest_usd)))
