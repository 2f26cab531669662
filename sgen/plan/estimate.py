"""Seconds per stage of one planned job, from its planned sizes and the fitted time models."""
from __future__ import annotations

from sgen.plan.dry_run import JobQueries, PlanState
from sgen.plan.rates import RateBook
from sgen.plan.records import STAGES


def stage_seconds(q: JobQueries, book: RateBook, state: PlanState, job_overhead: float) -> tuple[dict[str, float],
                                                                                                  list[str]]:
    """(seconds by stage, notes on what could not be priced)."""
    notes: list[str] = []
    seconds = dict.fromkeys(STAGES, 0.0)
    seconds["load"] = _load(q, book, state, notes)
    if q.finetune_pairs:
        seconds["finetune_teacher"] = book.finetune_seconds(q.teacher_setups[0], q.finetune_pairs)
    seconds["generate"] = _generate(q, book, notes)
    train, evaluate = book.train_model(q.student_setup), book.eval_model(q.student_setup)
    if train is None or evaluate is None:
        notes.append("student never measured here: its train and eval times are unknown, counted as 0 "
                     "(hydra.launcher.probe=auto measures it)")
    else:
        seconds["train"] = train([1.0, q.train_steps, q.train_examples])
        seconds["eval"] = evaluate([1.0, q.n_test])
        if not q.seed_only_cached:
            seconds["train_seed_only"] = (train([1.0, q.seed_only_steps, q.seed_only_examples])
                                          + evaluate([1.0, q.n_test]))
    seconds["other"] = book.write_model()([1.0, q.rows]) + job_overhead
    return seconds, notes


def _load(q: JobQueries, book: RateBook, state: PlanState, notes: list[str]) -> float:
    recorded = book.load_seconds(q.task, q.teacher_setups)
    if recorded is not None:
        seconds = recorded
    else:  # the task load as timed by this plan, plus each backend's load as the probe measured it
        seconds = state.task_seconds.get(q.task, 0.0)
        for sid in q.teacher_setups:
            probed = book.probe_load_seconds(sid)
            if probed is None:
                notes.append("teacher backend never measured here: its load time is unknown, counted as 0")
            else:
                seconds += probed
    for gguf in q.conversions:
        convert, _ = book.convert_seconds(gguf.stat().st_size)
        seconds += convert
        notes.append(f"converts {gguf.name} first ({convert:.0f} s)")
    return seconds


def _generate(q: JobQueries, book: RateBook, notes: list[str]) -> float:
    seconds = book.generate_overhead(q.teacher_setups)([1.0, q.used])
    models = {sid: book.call_model(sid) for sid in {c.setup for c in q.calls}}
    unknown = {sid for sid, model in models.items() if model is None}
    seconds += sum(models[c.setup](c.x) for c in q.calls if c.setup not in unknown)
    if unknown:
        notes.append("queries to a teacher backend never measured here: their time is unknown, counted as 0 "
                     "(hydra.launcher.probe=auto measures local backends, =true also served ones)")
    if q.placeholder_answers:
        notes.append("no recorded completion to simulate the teacher's answers with: placeholders that always "
                     "parse, with max_new_tokens completion tokens each (an upper bound)")
    return seconds
