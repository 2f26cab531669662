"""Majority vote (self-consistency): k samples per item, keep the answer most of them agree on.

Classification votes on the label; generation votes on the final number of each chain-of-thought answer and keeps
one answer that reaches the winning number (the teacher's own when it does).
"""
from __future__ import annotations

from collections import Counter

from sgen.records import GenerationParams, Messages, QueryRecord, SyntheticRow
from sgen.verifiers.base import Verifier

# Purposes of the query whose answer is the row's label: the teacher labeled (classification) or answered it.
LABEL_PURPOSES = ("label", "answer")


def vote_samples(row: SyntheticRow, n: int, k: int) -> list[int]:
    """Sample indices for a row's votes: negative, so a vote never repeats a draw a strategy made of the same
    prompt (answer augmentation asks one question with indices 0, 1, 2, ...), and disjoint between rows."""
    return [-(row.sample_index * k + j) for j in range(1, n + 1)]


class MajorityVerifier(Verifier):
    """k votes per row; when the teacher already labeled the row, its answer is the first vote (k-1 extra queries)."""

    name = "majority"

    def __init__(self, k: int = 3, temperature: float = 0.7, min_agreement: float = 0.5) -> None:
        if k < 2:
            raise ValueError(f"verifier.k must be >= 2 for a vote, got {k}")
        if not 0 <= min_agreement < 1:
            raise ValueError(f"verifier.min_agreement must be in [0, 1), got {min_agreement}")
        self.k = k
        self.temperature = temperature
        self.min_agreement = min_agreement

    def extra_queries(self, labeled_by_teacher: bool) -> int:
        return self.k - 1 if labeled_by_teacher else self.k

    def verify(self, rows, ctx) -> None:
        todo = [r for r in rows if r.parse_status == "ok" and r.kept]
        if not todo:
            return
        params = GenerationParams(ctx.label_params.max_new_tokens, self.temperature, ctx.label_params.top_p)
        prompts, samples, owners = [], [], []
        ballots: list[list[tuple[str | None, str | None]]] = []  # per row: (vote key, the label it stands for)
        for idx, row in enumerate(todo):
            label_query = next((q for q in row.queries if q.purpose in LABEL_PURPOSES), None)
            prompt = label_query.prompt if label_query else self._prompt(row, ctx)
            n = self.extra_queries(label_query is not None)
            prompts += [prompt] * n
            samples += vote_samples(row, n, self.k)
            owners += [idx] * n
            ballots.append([(self._key(row.label, ctx), row.label)] if label_query else [])
        for owner, query in zip(owners, ctx.verifier_client.ask(prompts, params, "vote", samples), strict=True):
            todo[owner].queries.append(query)
            ballots[owner].append(self._parse(query, params, ctx))
        for row, ballot in zip(todo, ballots, strict=True):
            self._decide(row, ballot)

    def _decide(self, row: SyntheticRow, ballot: list[tuple[str | None, str | None]]) -> None:
        counts = Counter(key for key, _ in ballot if key is not None)
        winner, n_win = counts.most_common(1)[0] if counts else (None, 0)
        share = n_win / self.k
        row.verifier = {"name": self.name, "votes": [key for key, _ in ballot], "agreement": share}
        row.kept = winner is not None and share > self.min_agreement
        if row.kept:
            # The first ballot that reaches the winner: the row's own answer when it agrees with the majority.
            row.label = next(label for key, label in ballot if key == winner)

    @staticmethod
    def _prompt(row: SyntheticRow, ctx) -> Messages:
        if ctx.kind == "generation":
            return ctx.answer_prompt(row.text, f"verify:{row.source_id}")
        return ctx.label_prompt(row.text, f"verify:{row.source_id}")

    @staticmethod
    def _key(label: str | None, ctx) -> str | None:
        return ctx.answer_key(label)

    @staticmethod
    def _parse(query: QueryRecord, params: GenerationParams, ctx) -> tuple[str | None, str | None]:
        if ctx.kind == "generation":
            label = ctx.prompts.parse_answer(query.text, query.completion_tokens >= params.max_new_tokens)[0]
            return ctx.answer_key(label), label
        label = ctx.prompts.parse_label(query.text)[0]
        return label, label
