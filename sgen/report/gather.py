"""Gather every job of a sweep into one table: finished runs with their metrics, failed runs with their error."""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sgen.config import finetune_off
from sgen.outputs import flatten_metrics

log = logging.getLogger(__name__)

# Columns every table has, in this order, whatever the jobs wrote; the metrics follow.
ID_COLUMNS = ["job", "status", "error", "task", "method", "strategy", "verifier", "seed_size", "budget", "ratio",
              "seed", "overrides"]
JOB_MARKERS = ("status.json", "metrics.json", ".hydra/overrides.yaml")


@dataclass
class JobFiles:
    """What one job left on disk (any of these can be missing: a job killed early has only .hydra/)."""
    path: Path
    status: dict[str, Any] | None
    metrics: dict[str, Any] | None
    config: dict[str, Any]
    choices: dict[str, Any]
    overrides: list[str]
    damaged: list[str] = field(default_factory=list)  # "<file>: <why it cannot be read>", one per damaged file


def find_job_dirs(sweep_dir: Path) -> list[Path]:
    """Every job folder under a sweep folder (Hydra's <sweep>/<num>, nested sweeps too), in natural order."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep folder {sweep_dir} does not exist")
    found: set[Path] = set()
    for marker in JOB_MARKERS:
        for hit in sweep_dir.rglob(marker):
            job = hit.parent.parent if marker.startswith(".hydra") else hit.parent
            # W&B keeps copies of files under wandb/; a report's own output folder is not a job either.
            if "wandb" not in job.relative_to(sweep_dir).parts:
                found.add(job)
    return sorted(found, key=lambda p: _natural_key(p.relative_to(sweep_dir).as_posix()))


def _natural_key(text: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def read_job(path: Path) -> JobFiles:
    """A job's files; one that cannot be read, or does not hold what it should, is recorded as damaged (the
    report lists the job with the file and the reason) and read as missing."""
    damaged: list[str] = []

    def read(name: str, parse, shape: type, empty):
        file = path / name
        if not file.exists():
            return empty
        try:
            value = parse(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            damaged.append(f"{name}: unreadable ({type(exc).__name__}: {reason})")
            return empty
        if value is None:  # an empty YAML file
            return empty
        if not isinstance(value, shape):
            damaged.append(f"{name}: holds a {type(value).__name__}, not a {shape.__name__}")
            return empty
        return value

    hydra_cfg = read(".hydra/hydra.yaml", yaml.safe_load, dict, {}).get("hydra", {})
    config = read("config_resolved.yaml", yaml.safe_load, dict, {}) or read(".hydra/config.yaml", yaml.safe_load,
                                                                            dict, {})
    status = read("status.json", json.loads, dict, None)
    if status is not None and "status" not in status:
        damaged.append("status.json: has no 'status' field")
        status = None
    choices = ((hydra_cfg.get("runtime") or {}) if isinstance(hydra_cfg, dict) else {}).get("choices") or {}
    job = JobFiles(path=path, status=status, metrics=read("metrics.json", json.loads, dict, None), config=config,
                   choices=dict(choices), overrides=[str(o) for o in read(".hydra/overrides.yaml", yaml.safe_load,
                                                                              list, [])],
                   damaged=damaged)
    for problem in damaged:
        log.warning("job %s: %s", path, problem)
    return job


def job_row(job: JobFiles, sweep_dir: Path) -> dict[str, Any]:
    """One table row. A failed job gets its coordinates (strategy, budget, seed size) from its config."""
    row: dict[str, Any] = {"job": job.path.relative_to(sweep_dir).as_posix() or ".",
                           "overrides": " ".join(job.overrides)}
    row.update(_status(job))
    row.update(_coordinates(job))
    if job.metrics:
        row.update(flatten_metrics(job.metrics))
        row["tokens"] = (job.metrics.get("prompt_tokens") or 0) + (job.metrics.get("completion_tokens") or 0)
    row["method"] = method_name(row.get("strategy"), row.get("verifier"), row.get("teacher_finetune"))
    row["wall_seconds"] = _wall_seconds(job.path)
    cfg_logger = (job.config.get("logger") or {}).get("_target_", "")
    row["logger"] = cfg_logger.rsplit(".", 1)[-1] if cfg_logger else None
    return row


def _status(job: JobFiles) -> dict[str, Any]:
    if job.damaged:  # never "ok": what the job recorded cannot be trusted or placed
        return {"status": "damaged", "error": "; ".join(job.damaged)}
    if job.status is None:
        # Still running, killed, or written by an older sgen: say so rather than drop the job.
        return {"status": "ok" if job.metrics else "incomplete", "error": None}
    status = job.status.get("status", "unknown")
    if status == "ok" and job.metrics is None:
        return {"status": "incomplete", "error": "status.json says ok but metrics.json is missing"}
    return {"status": status, "error": job.status.get("error")}


def method_name(strategy: str | None, verifier: str | None, teacher_finetune: str | None) -> str | None:
    """What a grid compares: the strategy, plus the verifier and the teacher's fine-tuning when they are used
    (new_answer+majority, new_answer+teacher-lora), so a sweep over either keeps its arms apart."""
    name = strategy
    if verifier and verifier != "none":
        name = f"{name}+{verifier}"
    if teacher_finetune:
        name = f"{name}+teacher-{teacher_finetune}"
    return name


def _finetune_method(value: Any) -> str | None:
    """teacher.finetune as configured (null, 'none', 'lora' or a settings block) -> its method, or None."""
    if finetune_off(value):
        return None
    return value if isinstance(value, str) else str((value or {}).get("method", "lora"))


def _coordinates(job: JobFiles) -> dict[str, Any]:
    cfg = job.config
    task = cfg.get("task") or {}
    budget = (cfg.get("budget") or {}).get("queries")
    seed_size = task.get("seed_size")
    out = {"task": task.get("name"), "strategy": job.choices.get("strategy"),
           "verifier": job.choices.get("verifier"), "budget": budget, "seed_size": seed_size,
           "seed": cfg.get("seed"),
           "teacher_finetune": _finetune_method((cfg.get("teacher") or {}).get("finetune"))}
    if isinstance(budget, (int, float)) and isinstance(seed_size, (int, float)) and seed_size > 0:
        out["ratio"] = budget / seed_size
    return out


def _wall_seconds(path: Path) -> float | None:
    """Job wall time: Hydra writes .hydra/ as the job starts, and sgen writes status.json as it ends."""
    start, end = path / ".hydra" / "overrides.yaml", path / "status.json"
    if not (start.exists() and end.exists()):
        return None
    return end.stat().st_mtime - start.stat().st_mtime


def load_sweep(sweep_dir: str | Path) -> pd.DataFrame:
    """Every job of a sweep as one row: identity columns first (job, status, error, strategy, budget, ...),
    then the flattened metrics (`accuracy`, `seed_only.accuracy`, `seconds.generate`, ...)."""
    sweep_dir = Path(sweep_dir)
    jobs = find_job_dirs(sweep_dir)
    if not jobs:
        raise FileNotFoundError(f"no job folders (with {' or '.join(JOB_MARKERS)}) under {sweep_dir}")
    df = pd.DataFrame([job_row(read_job(j), sweep_dir) for j in jobs])
    for col in ID_COLUMNS:
        if col not in df:
            df[col] = None
    df = df[ID_COLUMNS + [c for c in df.columns if c not in ID_COLUMNS]]
    counts = df["status"].value_counts().to_dict()
    log.info("sweep %s: %d jobs %s", sweep_dir, len(df), counts)
    return df


def load_runs_table(path: str | Path) -> pd.DataFrame:
    """A table a report wrote (runs.csv or runs.parquet): a published study rebuilds its report from it alone."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"runs table {path} does not exist")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise FileNotFoundError(f"{path} is neither a sweep folder nor a runs table (.csv, .parquet)")


def load_sweeps(sweep_dirs: Sequence[str | Path]) -> pd.DataFrame:
    """Several sweeps as one table (e.g. a study and its follow-up grid); with more than one, each job is named
    `<sweep folder>/<job>`. A runs.csv / runs.parquet stands for the sweep it was gathered from."""
    dirs = [Path(d) for d in sweep_dirs]
    tables = [load_runs_table(d) if d.is_file() else load_sweep(d) for d in dirs]
    if len(tables) == 1:
        return tables[0]
    for d, df in zip(dirs, tables):
        df["job"] = (d.parent.name if d.is_file() else d.name) + "/" + df["job"].astype(str)
    return pd.concat(tables, ignore_index=True)


def latest_sweep(root: str | Path = "multirun") -> Path:
    """The most recently started sweep under `root` (a folder holding Hydra's multirun.yaml)."""
    root = Path(root)
    sweeps = sorted(root.rglob("multirun.yaml"), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
    if not sweeps:
        raise FileNotFoundError(f"no sweep (multirun.yaml) under {root.resolve()}; run one first, e.g. "
                                "`python -m sgen -m experiment=ratio_grid_tiny`, or name the sweep folder")
    return sweeps[-1].parent
