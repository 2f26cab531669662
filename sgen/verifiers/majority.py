"""Majority vote (self-consistency): k label samples per item, keep the label most of them agree on."""
from __future__ import annotations

from collections import Counter

from sgen.records import GenerationParams
from sgen.verifiers.base import Verifier


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
        votes: list[list[str | None]] = []
        for idx, row in enumerate(todo):
            label_query = next((q for q in row.queries if q.purpose == "label"), None)
            prompt = label_query.prompt if label_query else ctx.label_prompt(row.text, f"verify:{row.source_id}")
            n = self.extra_queries(label_query is not None)
            prompts += [prompt] * n
            samples += list(range(1, n + 1))
            owners += [idx] * n
            votes.append([row.label] if label_query else [])
        for owner, query in zip(owners, ctx.verifier_client.ask(prompts, params, "vote", samples), strict=True):
            todo[owner].queries.append(query)
            votes[owner].append(ctx.prompts.parse_label(query.text)[0])
        for row, row_votes in zip(todo, votes, strict=True):
            counts = Counter(v for v in row_votes if v is not None)
            winner, n_win = counts.most_common(1)[0] if counts else (None, 0)
            share = n_win / self.k
            row.verifier = {"name": self.name, "votes": row_votes, "agreement": share}
            row.kept = winner is not None and share > self.min_agreement
            if row.kept:
                row.label = winner
