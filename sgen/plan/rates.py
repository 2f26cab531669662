"""Time models fitted to the measurements in rates.jsonl (sgen.throughput): recorded runs first, probes else.

Every model is linear with non-negative weights, fitted by NNLS to the newest measurements of the same setup
(backend or student config + code + threads + device), so the newest engine's speed wins:
- a teacher backend call: seconds = w . [1, padded prompt tokens, completion tokens, decode slots, decode steps]
  (sgen.throughput.call_features), fitted to single calls;
- generation outside the backend (cache, ledger, journal): a + b x queries used;
- student training: a + b x optimizer steps + c x training examples (epochs x rows); evaluation: a + b x test
  examples;
- writing the synthetic set: a + b x rows; load: the median of the same task and backends;
- start-up before the first job and each job's own overhead (Hydra, metrics, status): medians;
- GGUF conversion: seconds per byte.
With one distinct size only, a model is a plain ratio (no fixed part).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sgen.throughput import rates_path, runtime

log = logging.getLogger(__name__)

NEWEST_RUNS = 20  # runs per setup a model is fitted to
NEWEST_CALLS = 600  # backend calls per setup
# Used only when nothing was recorded on this machine; the plan names every default it falls back to.
DEFAULTS = {"startup": 15.0, "job_overhead": 0.3, "write": (0.05, 0.0005), "convert_per_byte": 1.5e-7,
            "finetune_per_pair_epoch": 0.7}


@dataclass
class Linear:
    weights: list[float]
    points: int

    def __call__(self, x: Sequence[float]) -> float:
        return float(np.dot(self.weights, x))


def fit(xs: list[Sequence[float]], ys: list[float]) -> Linear | None:
    """Non-negative least squares; with a single distinct input, the ratio through the origin."""
    if not xs:
        return None
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    distinct = {tuple(row) for row in x.tolist()}
    if len(distinct) == 1:  # no spread: all of it is the variable part
        weights = np.zeros(x.shape[1])
        j = x.shape[1] - 1 if x[0, -1] > 0 else 0
        weights[j] = max(y.mean(), 0.0) / x[0, j] if x[0, j] else 0.0
        return Linear(weights.tolist(), len(ys))
    from scipy.optimize import nnls

    scale = np.where(x.max(axis=0) > 0, x.max(axis=0), 1.0)  # columns of similar size: a well-posed NNLS
    weights, _ = nnls(x / scale, np.maximum(y, 0.0))
    return Linear((weights / scale).tolist(), len(ys))


class RateBook:
    """The measurements of this machine, newest first, and the models fitted to them."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = sorted(records, key=lambda r: r.get("time", 0), reverse=True)
        here = runtime()
        self.local = [r for r in self.records if all(r.get(k) == here[k] for k in ("threads", "device"))]
        self._fitted: dict[tuple, Any] = {}  # every job of a plan asks the same few models

    @classmethod
    def load(cls, path: Path | None = None) -> RateBook:
        path = path or rates_path()
        records = []
        if path.exists():
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    log.warning("%s line %d is not JSON; skipped", path, n)
        return cls(records)

    def add(self, record: dict[str, Any]) -> None:
        self.records.insert(0, record)
        self.local.insert(0, record)
        self._fitted.clear()

    def _memo(self, key: tuple, compute):
        if key not in self._fitted:
            self._fitted[key] = compute()
        return self._fitted[key]

    # -- which measurements ------------------------------------------------------------------------------------
    def _runs(self, **match: Any) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("kind") == "run" and all(r.get(k) == v for k, v in match.items())]

    def _with_calls(self, setup: str) -> tuple[str, list[dict[str, Any]]]:
        """Records holding calls of this backend setup: runs if any, else probes."""
        for kind in ("run", "probe"):
            found = [r for r in self.records if r.get("kind") == kind
                     and any(c["setup"] == setup for c in r.get("calls", []))]
            if found:
                return kind, found
        return "", []

    def _student_points(self, setup: str) -> tuple[str, list[tuple[list[float], float]], list[tuple[int, float]]]:
        """Training points ([steps, examples], seconds) and evaluation points (test size, seconds)."""
        runs = self._runs(student_setup=setup)[:NEWEST_RUNS]
        if runs:
            return ("run", [([r.get("train_steps") or 0, r["train_examples"]], r["seconds"].get("train", 0.0))
                            for r in runs],
                    [(r["n_test"], r["seconds"].get("eval", 0.0)) for r in runs])
        probes = [r for r in self.records if r.get("kind") == "probe" and setup in r.get("students", {})]
        if probes:
            student = probes[0]["students"][setup]
            train = [([p[0], p[1]], p[2]) if len(p) == 3 else ([0, p[0]], p[1]) for p in student["train"]]
            return "probe", train, [tuple(p) for p in student["eval"]]
        return "", [], []

    # -- what the plan asks --------------------------------------------------------------------------------------
    def samples(self, setup: str, params: str, task: str) -> list[tuple[str, int]]:
        key = f"{setup}|{params}"
        out: list[tuple[str, int]] = []
        for r in self.records:
            if r.get("task") == task and key in r.get("samples", {}):
                out += [(str(text), int(tokens)) for text, tokens in r["samples"][key]]
            if len(out) >= 256:
                break
        return out

    def has_calls(self, setup: str) -> bool:
        return self._memo(("has_calls", setup), lambda: bool(self._with_calls(setup)[1]))

    def has_student(self, setup: str) -> bool:
        return self._memo(("has_student", setup), lambda: bool(self._student_points(setup)[0]))

    def call_model(self, setup: str) -> Linear | None:
        return self._memo(("call", setup), lambda: self._call_model(setup))

    def _call_model(self, setup: str) -> Linear | None:
        _, records = self._with_calls(setup)
        calls = [c for r in records for c in r.get("calls", []) if c["setup"] == setup][:NEWEST_CALLS]
        return fit([c["x"] for c in calls], [c["seconds"] for c in calls])

    def generate_overhead(self, setups: list[str]) -> Linear:
        return self._memo(("overhead", *sorted(setups)), lambda: self._generate_overhead(setups))

    def _generate_overhead(self, setups: list[str]) -> Linear:
        runs = [r for r in self._runs() if sorted(r.get("teacher_setups", [])) == sorted(setups)][:NEWEST_RUNS]
        xs = [[1.0, r["queries_used"]] for r in runs]
        ys = [r["seconds"].get("generate", 0.0) - sum(c["seconds"] for c in r.get("calls", [])) for r in runs]
        return fit(xs, ys) or Linear([0.0, 0.0], 0)

    def train_model(self, setup: str) -> Linear | None:
        def compute():
            _, train, _ = self._student_points(setup)
            return fit([[1.0, *work] for work, _ in train], [s for _, s in train])
        return self._memo(("train", setup), compute)

    def eval_model(self, setup: str) -> Linear | None:
        def compute():
            _, _, evals = self._student_points(setup)
            return fit([[1.0, n] for n, _ in evals], [s for _, s in evals])
        return self._memo(("eval", setup), compute)

    def write_model(self) -> Linear:
        def compute():  # a first job's write also imports datasets: later jobs only
            runs = [r for r in self.local if r.get("kind") == "run" and not r.get("first_in_process")][:NEWEST_RUNS]
            if len({r["rows"] for r in runs}) < 2:  # mostly fixed cost: a ratio from one size would overshoot
                return Linear(list(DEFAULTS["write"]), 0)
            return fit([[1.0, r["rows"]] for r in runs], [r["seconds"].get("write", 0.0) for r in runs])
        return self._memo(("write",), compute)

    def load_seconds(self, task: str, setups: list[str]) -> float | None:
        def compute():
            runs = [r for r in self._runs(task=task) if sorted(r.get("teacher_setups", [])) == sorted(setups)]
            values = [r["seconds"].get("load", 0.0) - r.get("converted_seconds", 0.0) for r in runs[:NEWEST_RUNS]]
            return statistics.median(values) if values else None
        return self._memo(("load", task, *sorted(setups)), compute)

    def probe_load_seconds(self, setup: str) -> float | None:
        for r in self.records:
            if r.get("kind") == "probe" and setup in r.get("loads", {}):
                return float(r["loads"][setup])
        return None

    def overheads(self, startup_now: float | None = None) -> tuple[float, float, str]:
        """(start-up before the first job, overhead of each job) on this machine, and where they come from.
        `startup_now`: how long this process took to get here (interpreter, Hydra, sgen's imports), the start-up
        to expect when no run was recorded."""
        runs = [r for r in self.local if r.get("kind") == "run"][: 4 * NEWEST_RUNS]
        first = [r["outside_stages_seconds"] for r in runs if r.get("first_in_process")]
        later = [r["outside_stages_seconds"] for r in runs if not r.get("first_in_process")]
        if first:
            startup, said = statistics.median(first), f"start-up: {_plural(len(first), 'recorded sweep')}"
        elif startup_now is not None:
            startup, said = startup_now, "start-up: as this plan's own (no sweep recorded)"
        else:
            startup, said = DEFAULTS["startup"], "start-up: default (no sweep recorded)"
        per_job = statistics.median(later) if later else DEFAULTS["job_overhead"]
        said += f"; per-job overhead: {_plural(len(later), 'recorded job') if later else 'default (none recorded)'}"
        return max(startup, 0.0), max(per_job, 0.0), said

    def convert_seconds(self, size_bytes: int) -> tuple[float, str]:
        converts = [r for r in self.local if r.get("kind") == "convert" and r.get("bytes")][:5]
        if not converts:
            return size_bytes * DEFAULTS["convert_per_byte"], "default rate"
        rate = statistics.median(r["seconds"] / r["bytes"] for r in converts)
        return size_bytes * rate, f"{len(converts)} recorded conversion(s)"

    def finetune_seconds(self, setup: str, pair_epochs: int) -> float:
        # Only records that count the epochs min_steps added (older ones counted the configured epochs alone).
        runs = [r for r in self._runs() if (r.get("finetune") or {}).get("pair_epochs")
                and setup in r.get("teacher_setups", [])][:NEWEST_RUNS]
        if not runs:
            return pair_epochs * DEFAULTS["finetune_per_pair_epoch"]
        rate = statistics.median(r["finetune"]["seconds"] / r["finetune"]["pair_epochs"] for r in runs)
        return pair_epochs * rate

    # -- saying which measurements a plan used ----------------------------------------------------------------
    def describe_backend(self, setup: str) -> str:
        kind, records = self._with_calls(setup)
        if not records:
            return "no measurements (times unknown)"
        calls = sum(c["setup"] == setup for r in records for c in r.get("calls", []))
        return f"{_measured(kind, len(records))}, {_plural(calls, 'call')}, newest {_when(records[0])}"

    def describe_student(self, setup: str) -> str:
        kind, train, _ = self._student_points(setup)
        if not kind:
            return "no measurements (times unknown)"
        return f"{_measured(kind, len(train) if kind == 'run' else 1)}"


def _plural(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _measured(kind: str, n: int) -> str:
    return f"recorded {_plural(n, 'run')}" if kind == "run" else f"probe ({n})"


def _when(record: dict[str, Any]) -> str:
    return dt.datetime.fromtimestamp(record.get("time", 0)).strftime("%Y-%m-%d %H:%M")
