"""A strategy decides which synthetic items to create and spends its share of the budget creating them.

One strategy name is one concept (answer augmentation, rephrase, new question, annotate) for every kind of task;
how the items are made differs by task kind, so a strategy holds one Flow per kind and runs the one that fits the
task's data. The flows live in classification_flows.py and generation_flows.py, one module per kind; the
write-then-label round that rephrase and new_question share for both kinds is augment.py.

Items are planned in a fixed order, round by round, and a round never plans more items than the remaining budget
pays for at full cost (generation + labeling + verification). Items that fail early (an unparsable rewrite) leave
their later queries unspent, and the next round uses them.
"""
from __future__ import annotations

import random
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sgen.budget import BudgetScope, MeteredTeacher, QueryLedger
from sgen.records import Example, GenerationParams, Messages, SyntheticRow, TaskData

KINDS = ("classification", "generation")


@dataclass
class GenerationContext:
    """Everything a strategy needs, passed forward; strategies never reach back into the run.

    For classification `label_params` are the labeling settings and `prompts` a ClassificationPrompts; for generation
    `label_params` are the teacher's answer settings, `text_params` the augmenter's question settings and `prompts`
    a MathPrompts.
    """

    prompts: Any
    data: TaskData
    teacher: MeteredTeacher
    augmenter: MeteredTeacher
    verifier_client: MeteredTeacher
    ledger: QueryLedger
    seed: int
    few_shot: int
    label_params: GenerationParams
    text_params: GenerationParams
    # The task's answer_key: what two labels share when they agree (a math answer's final number).
    answer_key: Callable[[str | None], str | None]
    round_size: int = 256
    # The teacher's label and answer prompts draw their few-shot block from this many fixed blocks (an item's key
    # picks one) instead of a fresh draw per item: a shared block is a shared prompt prefix, computed once by the
    # hf engine and billed once by servers with prompt caching. None: a fresh draw per item.
    few_shot_sets: int | None = None
    # The LLM judge's client (verifier=judge): the teacher, booked in the role 'judge'.
    judge_client: MeteredTeacher | None = None

    @property
    def kind(self) -> str:
        return self.data.kind

    def exemplars(self, key: str, label: str | None = None, exclude: str | None = None) -> list[Example]:
        """Few-shot seed examples, chosen deterministically per item; `exclude` keeps a question out of its own shots."""
        pool = [e for e in self.data.seed if (label is None or e.label == label) and e.id != exclude]
        rng = random.Random(f"{self.seed}:{key}")
        return rng.sample(pool, min(self.few_shot, len(pool)))

    def shared_exemplars(self, kind: str, key: str, exclude: str | None = None) -> list[Example]:
        """The few-shot block of one of `few_shot_sets` fixed blocks, picked by the item's key; a block holding
        `exclude` (a question must not be its own example) passes the item to the next block."""
        if not self.few_shot_sets:
            return self.exemplars(f"{kind}:{key}", exclude=exclude)
        first = zlib.crc32(key.encode("utf-8")) % self.few_shot_sets
        for step in range(self.few_shot_sets):
            block = self.exemplars(f"{kind}-block:{(first + step) % self.few_shot_sets}")
            if exclude is None or all(e.id != exclude for e in block):
                return block
        return self.exemplars(f"{kind}:{key}", exclude=exclude)  # every block holds it (a tiny seed set)

    def label_prompt(self, text: str, key: str) -> Messages:
        return self.prompts.label(text, self.shared_exemplars("label", key))

    def answer_prompt(self, question: str, key: str, exclude: str | None = None) -> Messages:
        """The teacher's prompt for a math question; the same key gives the same prompt (and the same cache key)."""
        return self.prompts.answer(question, self.shared_exemplars("answer", key, exclude=exclude))


class Flow(ABC):
    """How one strategy makes its items for one kind of task."""

    #: Teacher and augmenter queries one item costs before verification.
    base_cost: int = 1
    #: Whether the item's label comes from a teacher query (the verifier then adds k-1, not k, samples).
    labeled_by_teacher: bool = True

    def capacity(self, data: TaskData) -> int | None:
        """How many items the task's pools allow; None when unbounded."""
        return None

    @abstractmethod
    def run_round(self, ctx: GenerationContext, items: range) -> list[SyntheticRow]:
        """Create the given items (indices into the flow's fixed item order)."""


class PoolFlow(Flow):
    """The teacher labels or answers each unlabeled pool input once (1 query per row); the task kind decides how."""

    def capacity(self, data: TaskData) -> int:
        return len(data.unlabeled)

    def run_round(self, ctx: GenerationContext, items: range) -> list[SyntheticRow]:
        pool = [ctx.data.unlabeled[i] for i in items]
        rows = [SyntheticRow(text=e.text, label=None, strategy="annotate", parse_status="pending", source_id=e.id)
                for e in pool]
        self.annotate(ctx, rows, [e.id for e in pool])
        return rows

    @abstractmethod
    def annotate(self, ctx: GenerationContext, rows: list[SyntheticRow], keys: list[str]) -> None:
        """Ask the teacher for each row's label (one query each, `keys` its prompt keys) and record it."""


UNSENT_STATUS = "not sent: dollar cap"


def drop_unsent(rows: list[SyntheticRow]) -> list[SyntheticRow]:
    """Rows a dollar cap left unfinished (one of their queries was not sent) are not kept, and say why; their
    answered queries stay with them (and in the query cache: a rerun with more dollars reuses them)."""
    for row in rows:
        if any(not q.sent for q in row.queries):
            row.queries = [q for q in row.queries if q.sent]
            row.parse_status, row.kept = UNSENT_STATUS, False
    return rows


class Strategy(ABC):
    name: str

    @abstractmethod
    def flows(self) -> Mapping[str, Flow]:
        """The flow for each task kind this strategy supports."""

    def flow(self, kind: str) -> Flow:
        flows = self.flows()
        if kind not in flows:
            raise ValueError(f"strategy {self.name} does not support {kind} tasks; it supports {sorted(flows)}")
        return flows[kind]

    def cost_per_item(self, verifier, kind: str = "classification") -> int:
        flow = self.flow(kind)
        return flow.base_cost + verifier.extra_queries(flow.labeled_by_teacher)

    def check(self, data: TaskData, budget: int | None, verifier) -> None:
        """Fail before any query: an unsupported task kind or verifier, or a budget larger than the pools hold
        (a dollar budget without a query count stops where the pools end)."""
        verifier.check(self.name, data.kind)
        if budget is None:
            return
        cost = self.cost_per_item(verifier, data.kind)
        wanted = budget // cost
        cap = self.flow(data.kind).capacity(data)
        if cap is not None and wanted > cap:
            raise ValueError(
                f"strategy {self.name} with budget {budget} would create {wanted} items at {cost} queries each, "
                f"but the pool holds only {cap}; lower the budget to at most {cap * cost} or enlarge the pool "
                f"(task.unlabeled_size, task.seed_size or the strategy's answers_per_question)")

    def generate(self, ctx: GenerationContext, verifier, budget: int | None,
                 usd: float | None = None) -> list[SyntheticRow]:
        """Spend `budget` queries (None: no count) and, under the ledger's dollar cap, at most `usd` dollars (None:
        what the ledger has left), round by round."""
        flow = self.flow(ctx.kind)
        scope = BudgetScope(ctx.ledger, budget, usd)
        cost = self.cost_per_item(verifier, ctx.kind)
        cap = flow.capacity(ctx.data)
        rows: list[SyntheticRow] = []
        next_item = 0
        while True:
            n = min(scope.items(cost), ctx.round_size)
            if cap is not None:
                n = min(n, cap - next_item)
            if n <= 0:
                return rows
            new_rows = flow.run_round(ctx, range(next_item, next_item + n))
            for row in new_rows:
                row.strategy = self.name  # an alias (annotate) names itself, not the flow it shares
            verifier.verify(new_rows, ctx)
            rows.extend(drop_unsent(new_rows))
            next_item += n
