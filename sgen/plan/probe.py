"""The only thing a plan runs: when no run on this machine measured a setup, a few real calls measure it.

A teacher backend is loaded (timed) and answers the plan's own first prompts of each generation setting twice, a
few rows and a full batch, straight through the backend (not the query cache: nothing is stored or booked). A
student is trained for one epoch on one batch and on six (after a warm-up fit) and scores a test batch and six,
which separates its fixed cost from its cost per example. The measurements are appended to rates.jsonl as a
`probe` line, so the next plan finds them (recorded runs replace them as soon as there are any).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from sgen.records import GenerationParams, Messages
from sgen.throughput import CallLog, backend_batch_size, conversion_seconds, record_probe
from sgen.teachers.base import default_seeds

log = logging.getLogger(__name__)

SERVED_BACKENDS = ("sgen.teachers.openai.OpenAITeacher",)  # a probe there pays (and needs the server up)
# Student probe sizes in batches: the first fit pays one-off set-up (lazy imports, kernels) and is dropped; the
# other two are far apart, so the cost per example is not lost in the noise of a busy machine.
PROBE_BATCHES = (1, 1, 6)


@dataclass
class ProbeRequest:
    """What one task's jobs need measured."""

    task: str
    backends: dict[str, DictConfig] = field(default_factory=dict)  # setup -> backend config
    groups: dict[str, list[tuple[GenerationParams, list[Messages]]]] = field(default_factory=dict)
    students: dict[str, tuple[DictConfig, Any, Any]] = field(default_factory=dict)  # setup -> (cfg, task, data)

    def empty(self) -> bool:
        return not self.backends and not self.students


def may_probe(backend_cfg: DictConfig, mode: str) -> bool:
    """mode auto: local backends only; true: served ones too (a few paid queries); false: never."""
    if mode == "false":
        return False
    return mode == "true" or str(backend_cfg.get("_target_")) not in SERVED_BACKENDS


def run_probe(request: ProbeRequest) -> dict[str, Any]:
    """Measure, append the probe line to rates.jsonl, and return it."""
    t0 = time.perf_counter()
    calls = CallLog()
    loads: dict[str, float] = {}
    for sid, backend_cfg in request.backends.items():
        loads[sid] = _probe_backend(sid, backend_cfg, request.groups.get(sid, []), calls)
    students = {sid: _probe_student(*spec) for sid, spec in request.students.items()}
    record = {"task": request.task, "setups": calls.setups, "calls": calls.calls, "samples": calls.samples,
              "loads": loads, "students": students, "seconds": time.perf_counter() - t0}
    record_probe(record)
    log.info("probe for %s took %.1f s", request.task, record["seconds"])
    return {"kind": "probe", "time": time.time(), **record}


def _probe_backend(sid: str, backend_cfg: DictConfig, groups: list[tuple[GenerationParams, list[Messages]]],
                   calls: CallLog) -> float:
    log.info("probe: loading teacher backend %s to measure what no recorded run on this machine did",
             backend_cfg.get("model", backend_cfg.get("_target_")))
    t0, converting = time.perf_counter(), conversion_seconds()
    backend = instantiate(backend_cfg)
    backend.load()
    # A GGUF conversion here is done for good (the runs will find it cached): not part of a job's load.
    load_seconds = time.perf_counter() - t0 - (conversion_seconds() - converting)
    timed = calls.timed(backend, backend_cfg)
    batch = backend_batch_size(backend_cfg) or 16
    if groups:  # one untimed query first: one-off costs of a fresh backend (kernels, engine start) are not a rate
        backend.generate(groups[0][1][:1], groups[0][0], seeds=[0])
    for params, prompts in groups:
        for n in sorted({min(2, len(prompts)), min(batch, len(prompts))}):
            timed.generate(prompts[:n], params, seeds=default_seeds(prompts[:n], None))
    close = getattr(backend, "close", None)  # served backends hold a connection pool
    if callable(close):
        close()
    return load_seconds


def _probe_student(student_cfg: DictConfig, task, data) -> dict[str, list[list[float]]]:
    """([steps, examples, seconds] of training, [examples, seconds] of evaluation) at two sizes, after a
    warm-up; one epoch, no minimum steps."""
    log.info("probe: training student %s briefly to measure it (no recorded run on this machine)",
             student_cfg.get("model"))
    student = instantiate(student_cfg, epochs=1, min_steps=0)
    batch, eval_batch = int(student_cfg.get("batch_size", 16)), int(student_cfg.get("eval_batch_size", 64))
    train_points, eval_points = [], []
    for k in PROBE_BATCHES:
        n = batch * k
        train = [data.seed[i % len(data.seed)] for i in range(n)]
        test = data.test[: min(eval_batch * k, len(data.test))]
        t0 = time.perf_counter()
        result = student.train_and_evaluate(train, test, data.labels, 0, task=task)
        total = time.perf_counter() - t0
        train_points.append([k, n, total - result.seconds_eval])  # steps (one epoch of k batches), examples
        eval_points.append([len(test), result.seconds_eval])
    return {"train": train_points[1:], "eval": eval_points[1:]}
