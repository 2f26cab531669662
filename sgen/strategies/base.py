"""A strategy decides which synthetic items to create and spends its share of the budget creating them.

Items are planned in a fixed order, round by round, and a round never plans more items than the remaining budget
pays for at full cost (generation + labeling + verification). Items that fail early (an unparsable rewrite) leave
their later queries unspent, and the next round uses them.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass

from sgen.budget import BudgetScope, MeteredTeacher, QueryLedger
from sgen.records import Example, GenerationParams, Messages, SyntheticRow, TaskData
from sgen.tasks.prompts import ClassificationPrompts


@dataclass
class GenerationContext:
    """Everything a strategy needs, passed forward; strategies never reach back into the run."""

    prompts: ClassificationPrompts
    data: TaskData
    teacher: MeteredTeacher
    augmenter: MeteredTeacher
    verifier_client: MeteredTeacher
    ledger: QueryLedger
    seed: int
    few_shot: int
    label_params: GenerationParams
    text_params: GenerationParams
    round_size: int = 256

    def exemplars(self, key: str, label: str | None = None) -> list[Example]:
        """Few-shot seed examples, chosen deterministically per item."""
        pool = [e for e in self.data.seed if label is None or e.label == label]
        rng = random.Random(f"{self.seed}:{key}")
        return rng.sample(pool, min(self.few_shot, len(pool)))

    def label_prompt(self, text: str, key: str) -> Messages:
        return self.prompts.label(text, self.exemplars(f"label:{key}"))


class Strategy(ABC):
    name: str
    #: Teacher queries one item costs before verification.
    base_cost: int = 1
    #: Whether the item's label comes from a teacher query (the verifier then adds k-1, not k, samples).
    labeled_by_teacher: bool = True

    def cost_per_item(self, verifier) -> int:
        return self.base_cost + verifier.extra_queries(self.labeled_by_teacher)

    def capacity(self, data: TaskData) -> int | None:
        """How many items the task's pools allow; None when unbounded."""
        return None

    def check(self, data: TaskData, budget: int, verifier) -> None:
        """Fail before any query when the budget asks for more than the pools hold."""
        wanted = budget // self.cost_per_item(verifier)
        cap = self.capacity(data)
        if cap is not None and wanted > cap:
            raise ValueError(
                f"strategy {self.name} with budget {budget} would create {wanted} items at "
                f"{self.cost_per_item(verifier)} queries each, but the pool holds only {cap}; lower the budget to "
                f"at most {cap * self.cost_per_item(verifier)} or raise task.unlabeled_size")

    def generate(self, ctx: GenerationContext, verifier, budget: int) -> list[SyntheticRow]:
        scope = BudgetScope(ctx.ledger, budget)
        cost = self.cost_per_item(verifier)
        cap = self.capacity(ctx.data)
        rows: list[SyntheticRow] = []
        next_item = 0
        while True:
            n = min(scope.remaining // cost, ctx.round_size)
            if cap is not None:
                n = min(n, cap - next_item)
            if n <= 0:
                return rows
            new_rows = self.run_round(ctx, range(next_item, next_item + n))
            verifier.verify(new_rows, ctx)
            rows.extend(new_rows)
            next_item += n

    @abstractmethod
    def run_round(self, ctx: GenerationContext, items: range) -> list[SyntheticRow]:
        """Create the given items (indices into the strategy's fixed item order)."""


def label_rows(ctx: GenerationContext, rows: list[SyntheticRow], keys: list[str]) -> None:
    """Ask the teacher to label each row's text (one query each) and record label and status."""
    if not rows:
        return
    prompts = [ctx.label_prompt(r.text, k) for r, k in zip(rows, keys, strict=True)]
    for row, query in zip(rows, ctx.teacher.ask(prompts, ctx.label_params, "label"), strict=True):
        row.queries.append(query)
        row.label, row.parse_status = ctx.prompts.parse_label(query.text)
        row.kept = row.label is not None
