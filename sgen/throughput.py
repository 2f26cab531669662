"""What a run measured about its own speed, one JSON line per run in `<sgen cache>/rates.jsonl`.

The sweep plan (`hydra/launcher=plan`, sgen.plan) fits its time predictions to these lines, so they hold what the
time of each stage depends on: every teacher backend call (prompt and completion tokens as the backend batched them,
seconds), the student's training examples and test size, and the machine set-up they were measured on (backend
config, torch threads, device). A few raw completions per generation setting are kept too: the plan answers the
queries it simulates with them, so its parse rates and completion lengths are the teacher's own.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import math
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sgen.assets import cache_root
from sgen.records import Completion, GenerationParams, Messages
from sgen.teachers.base import ResultHook, Teacher

log = logging.getLogger(__name__)

RATES_FILE = "rates.jsonl"
SAMPLES_PER_SETTING = 32  # raw completions kept per (backend, generation params) and run
_STUDENT_NEUTRAL = ("progress",)  # student keys that change nothing about its speed
_BACKEND_NEUTRAL = ("price_per_million_prompt_tokens", "price_per_million_completion_tokens")  # cost, not speed

# Process-wide marks: the time between two recorded runs of one process, minus their stages, is the per-job
# overhead of a sweep (Hydra job set-up, metrics, status); before the first run it is start-up and imports.
_last_record_at: float | None = None
_converted = {"total": 0.0, "at_last_record": 0.0}  # GGUF conversion seconds: they happen inside the load stage


def rates_path() -> Path:
    return cache_root() / RATES_FILE


def runtime() -> dict[str, Any]:
    """What the speed of the same config depends on here: torch threads and the device."""
    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    return {"threads": torch.get_num_threads(), "device": device, "cpus": os.cpu_count()}


def _finetune_pair_epochs(finetune: dict[str, Any]) -> int:
    """Examples the teacher's fine-tuning passed over (min_steps can add epochs to the configured ones)."""
    from sgen.teachers.finetune import TeacherFinetune

    return TeacherFinetune.from_config(finetune["settings"]).pair_epochs(finetune["n_pairs"])


def setup_id(setup: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(setup, sort_keys=True, default=str).encode()).hexdigest()[:12]


def backend_setup(backend_cfg: DictConfig) -> dict[str, Any]:
    """A teacher backend's speed identity: its whole config (model, dtype, batch size, server), its code and the
    runtime. Old measurements stop matching when the engine changes, even under an unchanged config."""
    node = {k: v for k, v in OmegaConf.to_container(backend_cfg, resolve=True).items() if k not in _BACKEND_NEUTRAL}
    return {"backend": node, "code": code_version(str(node.get("_target_", ""))), **runtime()}


def student_setup(student_cfg: DictConfig, task_name: str) -> dict[str, Any]:
    """A student's speed identity; the task is in it because text lengths differ between tasks."""
    node = {k: v for k, v in OmegaConf.to_container(student_cfg, resolve=True).items() if k not in _STUDENT_NEUTRAL}
    return {"student": node, "task": task_name, "code": code_version(str(node.get("_target_", ""))), **runtime()}


@lru_cache(maxsize=32)
def code_version(target: str) -> str:
    """A hash of the source files of the package that holds `target` (e.g. every file of sgen/teachers/)."""
    import importlib.util

    try:  # the module part of a dotted target: its file's folder is the package
        spec = importlib.util.find_spec(target.rsplit(".", 1)[0])
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return "unknown"
    folder = Path(spec.origin).parent
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def backend_batch_size(backend_cfg: DictConfig) -> int | None:
    """Rows one backend step works on together: the local batch size, or a server's requests in flight."""
    value = backend_cfg.get("batch_size", None) or backend_cfg.get("concurrency", None)
    return int(value) if value else None


def training_work(student_cfg: DictConfig | Mapping[str, Any], n_train: int) -> tuple[int, int]:
    """(optimizer steps, examples) the student's training loop goes through: epochs (raised to reach min_steps)
    over n_train rows, as ClassifierStudent and fit_sft size their Lightning runs. A step has a fixed cost (the
    optimizer over every parameter, autocast casts, dropout masks) that dominates small batches, so the plan's
    time model takes both."""
    batch = int(student_cfg.get("batch_size", 32))
    per_epoch = max(math.ceil(math.ceil(n_train / batch) / int(student_cfg.get("grad_accum", 1) or 1)), 1)
    epochs = max(int(student_cfg.get("epochs", 1)), math.ceil(int(student_cfg.get("min_steps", 0) or 0) / per_epoch))
    return epochs * per_epoch, epochs * n_train


def params_key(params: GenerationParams) -> str:
    return f"{params.max_new_tokens}|{float(params.temperature):g}|{float(params.top_p):g}"


def call_features(prompt_tokens: Sequence[int], completion_tokens: Sequence[int],
                  batch_size: int | None) -> list[float]:
    """What one backend call's time depends on: [1 call, padded prompt tokens, completion tokens, decode slots,
    decode steps]. Rows go in batches of `batch_size`, sorted by prompt length as the hf backend does (None: one
    batch); a batch decodes until its longest completion ends, so it costs steps x rows slots."""
    order = sorted(range(len(prompt_tokens)), key=lambda i: prompt_tokens[i])
    size = batch_size or max(len(order), 1)
    padded = slots = steps = 0.0
    for start in range(0, len(order), size):
        idx = order[start : start + size]
        longest = max(completion_tokens[i] for i in idx)
        padded += len(idx) * max(prompt_tokens[i] for i in idx)
        slots += len(idx) * longest
        steps += longest
    return [1.0, padded, float(sum(completion_tokens)), slots, steps]


@dataclass
class CallLog:
    """Every call a run makes to a teacher backend, with its features and seconds, plus sample completions."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    samples: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    setups: dict[str, dict[str, Any]] = field(default_factory=dict)

    def timed(self, backend: Teacher, backend_cfg: DictConfig) -> TimedBackend:
        setup = backend_setup(backend_cfg)
        sid = setup_id(setup)
        self.setups[sid] = setup
        return TimedBackend(backend, sid, backend_batch_size(backend_cfg), self)

    def add(self, sid: str, batch_size: int | None, params: GenerationParams, completions: list[Completion],
            seconds: float) -> None:
        features = call_features([c.prompt_tokens for c in completions], [c.completion_tokens for c in completions],
                                 batch_size)
        self.calls.append({"setup": sid, "params": params_key(params), "n": len(completions),
                           "x": features, "seconds": seconds})
        kept = self.samples.setdefault(f"{sid}|{params_key(params)}", [])
        for c in completions[: SAMPLES_PER_SETTING - len(kept)]:
            kept.append((c.text, c.completion_tokens))


class TimedBackend(Teacher):
    """A backend that times each call into a CallLog; everything else passes through."""

    def __init__(self, backend: Teacher, sid: str, batch_size: int | None, log_: CallLog) -> None:
        self.backend, self.sid, self.batch_size, self.log = backend, sid, batch_size, log_

    @property
    def model_id(self) -> str:  # type: ignore[override]  # follows the backend (a fine-tuned teacher renames it)
        return self.backend.model_id

    @property
    def price(self) -> dict[str, float] | None:  # type: ignore[override]  # a dollar budget pays the backend's price
        return self.backend.price

    def load(self) -> None:
        self.backend.load()

    def generate(self, prompts: Sequence[Messages], params: GenerationParams,
                 seeds: Sequence[int] | None = None, on_result: ResultHook | None = None) -> list[Completion]:
        t0 = time.perf_counter()
        completions = self.backend.generate(prompts, params, seeds=seeds, on_result=on_result)
        if completions:
            self.log.add(self.sid, self.batch_size, params, completions, time.perf_counter() - t0)
        return completions


def timed_backends(cfg: DictConfig, teacher: Teacher, augmenter: Teacher, judge: Teacher,
                   calls: CallLog) -> tuple[Teacher, Teacher, Teacher]:
    """The run's teacher, augmenter and judge, timed; one wrapper for the teacher wherever a role uses it."""
    timed_teacher = calls.timed(teacher, cfg.teacher.backend)
    timed_augmenter = timed_teacher if augmenter is teacher else calls.timed(augmenter, cfg.augmenter.backend)
    timed_judge = timed_teacher if judge is teacher else calls.timed(judge, cfg.judge.backend)
    return timed_teacher, timed_augmenter, timed_judge


def append_line(record: dict[str, Any]) -> None:
    """One JSON line, appended under an exclusive lock: parallel jobs of a sweep share the file."""
    path = rates_path()
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.write(line)
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def record_conversion(gguf: Path, seconds: float) -> None:
    """A GGUF dequantization (sgen.models): the plan prices the next one from its size."""
    _converted["total"] += seconds
    _safe_append({"kind": "convert", "time": time.time(), "bytes": gguf.stat().st_size, "seconds": seconds,
                  **runtime()})


def record_run(cfg: DictConfig, exp: Any, metrics: dict[str, Any]) -> None:
    """The rates line of one finished run (called last in sgen.run); a failure here never fails the run."""
    try:
        _safe_append(run_record(cfg, exp, metrics))
    except Exception:  # a side record: the run's results are already on disk
        log.warning("could not record this run's rates in %s", rates_path(), exc_info=True)


def conversion_seconds() -> float:
    """Seconds this process spent converting GGUF files so far (a probe subtracts them from a load it times)."""
    return _converted["total"]


def run_record(cfg: DictConfig, exp: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    global _last_record_at
    now = time.time()
    seconds = dict(metrics["seconds"])
    first = _last_record_at is None
    since = process_age() if first else now - _last_record_at  # type: ignore[operator]
    _last_record_at = now
    student = student_setup(cfg.student, exp.task.name)
    planned_steps, train_examples = training_work(cfg.student, metrics["n_train"])
    finetune = metrics.get("teacher_finetune") or {}
    record = {
        "kind": "run", "time": now, "host": socket.gethostname(), "run_dir": str(cfg.paths.output_dir), **runtime(),
        "task": exp.task.name, "strategy": exp.strategy.name,
        "teacher_setups": sorted({c["setup"] for c in exp.calls.calls} | set(exp.calls.setups)),
        "setups": {**exp.calls.setups, setup_id(student): student}, "student_setup": setup_id(student),
        "seconds": seconds, "converted_seconds": _converted["total"] - _converted["at_last_record"],
        "outside_stages_seconds": since - sum(seconds.values()), "first_in_process": first,
        "queries_used": metrics["queries_used"], "queries_paid": metrics["queries_paid"],
        "rows": metrics["n_synthetic_generated"], "n_train": metrics["n_train"], "n_seed": metrics["n_seed"],
        "n_test": len(exp.data.test), "train_examples": train_examples,
        "train_steps": metrics.get("train_steps") or planned_steps,
        "finetune": ({"pairs": finetune["n_pairs"], "epochs": finetune["settings"].get("epochs", 1),
                      "pair_epochs": _finetune_pair_epochs(finetune),
                      "seconds": seconds.get("finetune_teacher", 0.0)} if finetune.get("trained") else None),
        "calls": exp.calls.calls, "samples": exp.calls.samples,
    }
    _converted["at_last_record"] = _converted["total"]
    return record


def record_probe(record: dict[str, Any]) -> None:
    """What the plan measured itself when no run had recorded a setup (sgen.plan.probe)."""
    _safe_append({"kind": "probe", "time": time.time(), "host": socket.gethostname(), **record})


def _safe_append(record: dict[str, Any]) -> None:
    try:
        append_line(record)
    except OSError as exc:
        log.warning("could not append to %s (%s); sweep plans will not see this measurement", rates_path(), exc)


def process_age() -> float:
    """Seconds since this process started (psutil comes with wandb); 0 where it cannot be known."""
    try:
        import psutil

        return time.time() - psutil.Process().create_time()
    except (ImportError, OSError):
        return 0.0
