"""What a run reports about its synthetic rows and baselines, per task kind.

Key names are shared where they mean the same thing: `accuracy` is exact match on generation tasks,
`synthetic_label_accuracy` grades annotations against the pool's hidden gold labels or answers.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from sgen.records import Example, SyntheticRow, TaskData
from sgen.students.metrics import majority_baseline

#: Scores compared between the run and its seed-only baseline, when the student reports them.
COMPARED_SCORES = ("accuracy", "macro_f1")


def usable_rows(rows: list[SyntheticRow], data: TaskData) -> list[SyntheticRow]:
    """Kept rows a student can train on: a known class label, or any answer on generation tasks."""
    if data.kind == "generation":
        return [r for r in rows if r.kept and r.label]
    valid = set(data.labels)
    return [r for r in rows if r.kept and r.label in valid]


def synthetic_examples(rows: list[SyntheticRow], data: TaskData) -> list[Example]:
    return [Example(f"synthetic-{i}", r.text, r.label) for i, r in enumerate(usable_rows(rows, data))]


def synthetic_stats(rows: list[SyntheticRow], data: TaskData, task) -> dict[str, Any]:
    kept = usable_rows(rows, data)
    stats: dict[str, Any] = {
        "n_synthetic": len(kept),
        "n_synthetic_generated": len(rows),
        "parse_failure_rate": _share(sum(r.parse_status != "ok" for r in rows), len(rows)),
        # Rows that parsed but a verifier (or a kept=false decision after parsing) dropped.
        "verifier_drop_rate": _share(sum(r.parse_status == "ok" and not r.kept for r in rows), len(rows)),
    }
    stats.update(judge_stats(rows, data, task))
    if data.kind == "generation":
        return {**stats, **_generation_stats(rows, kept, data, task)}
    # Only annotation rows have a hidden gold label; elsewhere the teacher's label quality is unknown.
    graded = [r for r in kept if r.source_id in data.hidden_gold]
    stats["synthetic_label_accuracy"] = (sum(r.label == data.hidden_gold[r.source_id] for r in graded) / len(graded)
                                         if graded else None)
    return stats


def _generation_stats(rows: list[SyntheticRow], kept: list[SyntheticRow], data: TaskData, task) -> dict[str, Any]:
    seed_gold = {e.id: e.label for e in data.seed}
    # The teacher's own first answer to a seed question (before any vote replaced it), graded against the gold.
    seed_answers = [(_first_answer(r), seed_gold[r.source_id]) for r in rows
                    if r.strategy == "new_answer" and r.source_id in seed_gold]
    seed_answers = [(text, gold) for text, gold in seed_answers if text is not None]
    graded = [r for r in kept if r.source_id in data.hidden_gold]
    return {
        "teacher_seed_accuracy": (sum(task.score(text, gold) for text, gold in seed_answers) / len(seed_answers)
                                  if seed_answers else None),
        "synthetic_label_accuracy": (sum(task.score(r.label, data.hidden_gold[r.source_id]) for r in graded)
                                     / len(graded) if graded else None),
        "row_status_counts": dict(Counter(r.parse_status for r in rows)),
    }


# Strategies whose rows should carry their source item's gold label or answer (a new question has its own answer).
GOLD_STRATEGIES = ("new_answer", "rephrase", "annotate")


def judge_stats(rows: list[SyntheticRow], data: TaskData, task) -> dict[str, Any]:
    """What the LLM judge did (verifier=judge): rows judged, its drop rate, replies without a score, the mean
    score, and where gold exists (rows derived from a seed or pool item) the precision of what it kept."""
    judged = [r for r in rows if r.verifier.get("name") == "judge"]
    if not judged:
        return {}
    gold = {**{e.id: e.label for e in data.seed}, **data.hidden_gold}
    graded = [r for r in judged if r.kept and r.strategy in GOLD_STRATEGIES and r.source_id in gold]
    scores = [r.verifier["score"] for r in judged if r.verifier.get("score") is not None]
    return {"judge": {
        "n_judged": len(judged),
        "drop_rate": sum(not r.kept for r in judged) / len(judged),
        "unparsed": sum(r.verifier.get("score") is None for r in judged),
        "mean_score": sum(scores) / len(scores) if scores else None,
        "n_gold": len(graded),
        "precision_vs_gold": (sum(task.answer_key(r.label) == task.answer_key(gold[r.source_id]) for r in graded)
                              / len(graded) if graded else None),
    }}


def _first_answer(row: SyntheticRow) -> str | None:
    return next((q.text for q in row.queries if q.purpose == "answer"), None)


def baseline_metrics(data: TaskData, task) -> dict[str, float]:
    """Always predicting the seed set's most common label (classification) or final number (generation)."""
    seed = [task.answer_key(e.label) for e in data.seed]
    test = [task.answer_key(e.label) for e in data.test]
    return {"majority_baseline_accuracy": majority_baseline(seed, test)}


def compared(scores: dict[str, Any]) -> dict[str, float]:
    return {k: scores[k] for k in COMPARED_SCORES if k in scores}


def _share(n: int, total: int) -> float:
    return n / total if total else 0.0
