"""An LLM judge: one query per row grades it against the task's rubric (is a rewrite faithful, is the label or
answer right, is a question answerable and well posed); rows scoring at least `threshold` are kept.

The judge is the teacher model unless `judge=...` names another (a stronger or cheaper one); either way it is asked
in its own role ('judge') against the run's one budget, at its own price under a dollar budget. Its raw reply is
kept on the row, parsed or not, so a rubric the model does not follow is visible in synthetic.jsonl.
"""
from __future__ import annotations

from sgen.records import GenerationParams, SyntheticRow
from sgen.tasks.judging import SCALE, parse_score
from sgen.verifiers.base import Verifier

# Strategies whose rows rewrite a seed item: the judge also sees the original, to grade faithfulness.
REWRITES = ("rephrase",)


class JudgeVerifier(Verifier):
    name = "judge"

    def __init__(self, threshold: int = 4, temperature: float = 0.0, max_new_tokens: int = 8,
                 keep_unparsed: bool = False) -> None:
        if not 1 <= threshold <= SCALE:
            raise ValueError(f"verifier.threshold must be a score from 1 to {SCALE}, got {threshold}")
        if max_new_tokens < 1:
            raise ValueError(f"verifier.max_new_tokens must be >= 1, got {max_new_tokens}")
        self.threshold = threshold
        self.params = GenerationParams(max_new_tokens, temperature, 1.0)
        self.keep_unparsed = keep_unparsed

    def extra_queries(self, labeled_by_teacher: bool) -> int:
        return 1

    def verify(self, rows, ctx) -> None:
        todo = [r for r in rows if r.parse_status == "ok" and r.kept]
        if not todo:
            return
        seed_text = {e.id: e.text for e in ctx.data.seed}
        prompts = [ctx.prompts.judge(r.text, r.label, seed_text.get(r.source_id) if r.strategy in REWRITES else None)
                   for r in todo]
        for row, query in zip(todo, ctx.judge_client.ask(prompts, self.params, "judge"), strict=True):
            row.queries.append(query)
            self._decide(row, query.text)

    def _decide(self, row: SyntheticRow, raw: str) -> None:
        score, status = parse_score(raw)
        row.verifier = {"name": self.name, "score": score, "parse": status, "raw": raw, "threshold": self.threshold}
        row.kept = score >= self.threshold if score is not None else self.keep_unparsed
