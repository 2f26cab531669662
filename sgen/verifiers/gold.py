"""Gold verification for answer augmentation: keep a new answer only when its final number matches the seed
question's gold answer (Chan et al. 2024 filter answers this way). It needs no queries, and it applies only where
a gold answer exists for the row's question: new_answer on a generation task."""
from __future__ import annotations

from sgen.verifiers.base import Verifier


class GoldVerifier(Verifier):
    name = "gold"

    def extra_queries(self, labeled_by_teacher: bool) -> int:
        return 0

    def check(self, strategy: str, kind: str) -> None:
        if strategy != "new_answer" or kind != "generation":
            raise ValueError(
                f"verifier=gold compares new answers with the seed question's gold answer, so it needs "
                f"strategy=new_answer on a generation task (got strategy={strategy} on a {kind} task); "
                f"use verifier=majority or verifier=none")

    def verify(self, rows, ctx) -> None:
        gold = {e.id: ctx.answer_key(e.label) for e in ctx.data.seed}
        for row in rows:
            if row.parse_status != "ok" or not row.kept:
                continue
            if row.source_id not in gold:
                raise ValueError(f"verifier=gold: row from {row.source_id!r} has no seed gold answer; "
                                 "only new_answer rows on seed questions can be checked")
            answer = ctx.answer_key(row.label)
            row.verifier = {"name": self.name, "gold": gold[row.source_id], "answer": answer}
            row.kept = answer is not None and answer == gold[row.source_id]
