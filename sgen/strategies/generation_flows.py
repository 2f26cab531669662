"""Flows for generation tasks (question -> chain-of-thought answer), as Chan et al. (2024) define the strategies.

Item i of a seed-set flow belongs to seed question i mod n, draw i div n: the first pass over the seed set is
draw 0, the next draw 1, and so on, so every item has its own cache key and a rerun draws the same samples.
Every row keeps all its queries (augmenter and teacher) and its raw text when a parse fails.
"""
from __future__ import annotations

from abc import abstractmethod

from sgen.records import Example, GenerationParams, Messages, QueryRecord, SyntheticRow, TaskData
from sgen.strategies.augment import AugmentThenLabel, Draft
from sgen.strategies.base import Flow, GenerationContext, PoolFlow


def answer_rows(ctx: GenerationContext, rows: list[SyntheticRow], keys: list[str],
                exclude: list[str | None]) -> None:
    """The teacher answers each row's question (1 query each); label = parsed solution ending in `#### N`."""
    if not rows:
        return
    prompts = [ctx.answer_prompt(r.text, k, x) for r, k, x in zip(rows, keys, exclude, strict=True)]
    samples = [r.sample_index for r in rows]
    for row, query in zip(rows, ctx.teacher.ask(prompts, ctx.label_params, "answer", samples), strict=True):
        row.queries.append(query)
        row.label, row.parse_status = ctx.prompts.parse_answer(query.text, hit_limit(query, ctx.label_params))
        row.kept = row.label is not None


def hit_limit(query: QueryRecord, params: GenerationParams) -> bool:
    """Whether the completion used every token it was allowed: it was probably cut off."""
    return query.completion_tokens >= params.max_new_tokens


def _seed_items(data: TaskData, items: range) -> list[tuple[Example, int]]:
    seed = data.seed
    return [(seed[i % len(seed)], i // len(seed)) for i in items]


class AnswerAugmentation(Flow):
    """new_answer: the teacher answers a seed question again, with temperature (1 query per row)."""

    def __init__(self, answers_per_question: int | None = None) -> None:
        if answers_per_question is not None and answers_per_question < 1:
            raise ValueError(f"strategy.answers_per_question must be >= 1 or null, got {answers_per_question}")
        self.answers_per_question = answers_per_question

    def capacity(self, data: TaskData) -> int | None:
        return None if self.answers_per_question is None else self.answers_per_question * len(data.seed)

    def run_round(self, ctx: GenerationContext, items: range) -> list[SyntheticRow]:
        rows = [SyntheticRow(text=q.text, label=None, strategy="new_answer", parse_status="pending", source_id=q.id,
                             target_label=ctx.answer_key(q.label), sample_index=s)
                for q, s in _seed_items(ctx.data, items)]
        # One prompt per question (its key is the question id): the draw index alone tells the k answers apart.
        answer_rows(ctx, rows, [r.source_id for r in rows], [r.source_id for r in rows])
        return rows


class AnswerPool(PoolFlow):
    """annotate: the teacher answers each unlabeled pool question once (1 query per row)."""

    def annotate(self, ctx: GenerationContext, rows: list[SyntheticRow], keys: list[str]) -> None:
        answer_rows(ctx, rows, keys, [None] * len(rows))  # a pool question is never among the seed shots


class _AnswerWritten(AugmentThenLabel):
    """The teacher answers each question the augmenter wrote from a seed question (never shown its own question)."""

    key_tag: str

    def drafts(self, ctx: GenerationContext, items: range) -> list[Draft]:
        return [Draft(i, self.prompt(ctx, source), sample, source, self.target(ctx, source))
                for i, (source, sample) in zip(items, _seed_items(ctx.data, items), strict=True)]

    @abstractmethod
    def prompt(self, ctx: GenerationContext, source: Example) -> Messages:
        """The augmenter's prompt for a seed question."""

    def target(self, ctx: GenerationContext, source: Example) -> str | None:
        return None

    def parse(self, ctx: GenerationContext, text: str, draft: Draft) -> tuple[str | None, str]:
        return ctx.prompts.parse_question(text, draft.source.text)

    def label(self, ctx: GenerationContext, rows: list[SyntheticRow], drafts: list[Draft]) -> None:
        answer_rows(ctx, rows, [f"{d.source.id}:{self.key_tag}:{d.sample}" for d in drafts],
                    [d.source.id for d in drafts])


class RephraseQuestions(_AnswerWritten):
    """rephrase: the augmenter rewrites a seed question (same meaning and answer); the teacher answers it."""

    strategy = purpose = key_tag = "rephrase"
    base_cost = 2  # rewrite + answer

    def prompt(self, ctx: GenerationContext, source: Example) -> Messages:
        return ctx.prompts.rephrase(source)

    def target(self, ctx: GenerationContext, source: Example) -> str | None:
        # The seed's gold number is the answer a faithful rewrite keeps: a target, never shown to the teacher.
        return ctx.answer_key(source.label)


class NewQuestions(_AnswerWritten):
    """new_question: the augmenter writes a new question from a seed question (a different answer), optionally
    checks it is well formed and answerable (one more augmenter query), and the teacher answers it."""

    strategy = purpose = "new_question"
    key_tag = "new"

    def __init__(self, check_answerable: bool = False) -> None:
        self.check_answerable = check_answerable
        self.base_cost = 3 if check_answerable else 2

    def prompt(self, ctx: GenerationContext, source: Example) -> Messages:
        return ctx.prompts.new_question(source)

    def screen(self, ctx: GenerationContext, rows: list[SyntheticRow]) -> None:
        """Greedy yes/no from the augmenter; a 'no' or no verdict drops the row before the teacher pays for it."""
        if not self.check_answerable or not rows:
            return
        params = GenerationParams(max_new_tokens=8, temperature=0.0, top_p=1.0)
        queries = ctx.augmenter.ask([ctx.prompts.check_question(r.text) for r in rows], params, "check_question")
        for row, query in zip(rows, queries, strict=True):
            row.queries.append(query)
            verdict, status = ctx.prompts.parse_check(query.text)
            if verdict is not True:
                row.kept = False
                row.parse_status = "unanswerable" if verdict is False else status
