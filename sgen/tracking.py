"""Experiment trackers: CSV (needs nothing) and W&B (offline without an API key; never blocks on the network)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sgen.outputs import flatten_metrics

log = logging.getLogger(__name__)


class Tracker:
    """Logs the config, final metrics and a sample of synthetic rows; gives Lightning a logger for training curves."""

    def start(self, config: dict[str, Any], output_dir: Path) -> None:
        self.output_dir = output_dir

    def lightning_loggers(self) -> list:
        return []

    def log_metrics(self, metrics: dict[str, Any]) -> None:
        pass

    def log_rows(self, rows: list[dict[str, Any]]) -> None:
        pass

    def finish(self, failed: bool = False) -> None:
        pass


class CSVTracker(Tracker):
    def lightning_loggers(self) -> list:
        from pytorch_lightning.loggers import CSVLogger

        return [CSVLogger(str(self.output_dir), name="student_logs", version="")]


def run_tags(config: dict[str, Any]) -> list[str]:
    """A run's coordinates as W&B tags (budget, seed size, ratio), to filter a sweep's runs by."""
    budget, task = config.get("budget") or {}, config.get("task") or {}
    queries, usd, seed_size = budget.get("queries"), budget.get("usd"), task.get("seed_size")
    tags = [f"budget={queries}"] if queries is not None else []
    tags += [f"budget_usd={usd:g}"] if usd is not None else []
    if seed_size:
        tags.append(f"seed_size={seed_size}")
        if queries is not None:
            tags.append(f"ratio={queries / seed_size:g}")
    return tags


class WandbTracker(Tracker):
    def __init__(self, project: str = "sgen", entity: str | None = None, group: str | None = None,
                 mode: str | None = None, tags: list[str] | None = None, sample_rows: int = 50,
                 job_type: str | None = None) -> None:
        self.project, self.entity, self.group, self.tags = project, entity, group, list(tags or [])
        self.job_type = job_type
        self.mode = mode or os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        self.sample_rows = sample_rows
        self.run = None

    def start(self, config: dict[str, Any], output_dir: Path) -> None:
        import wandb

        super().start(config, output_dir)
        tags = list(dict.fromkeys([*run_tags(config), *self.tags]))
        self.run = wandb.init(project=self.project, entity=self.entity, group=self.group, job_type=self.job_type,
                              tags=tags, config=config, dir=str(output_dir), mode=self.mode, reinit="finish_previous",
                              settings=wandb.Settings(init_timeout=60, silent=True))
        log.info("wandb run %s (%s mode)", self.run.id, self.mode)

    def lightning_loggers(self) -> list:
        from pytorch_lightning.loggers import WandbLogger

        return [WandbLogger(experiment=self.run)] if self.run is not None else []

    def log_metrics(self, metrics: dict[str, Any]) -> None:
        flat = {k: v for k, v in flatten_metrics(metrics, sep="/").items()
                if isinstance(v, (int, float, str, bool))}
        self.run.summary.update(flat)
        self.run.log({k: v for k, v in flat.items() if not isinstance(v, str)})

    def log_rows(self, rows: list[dict[str, Any]]) -> None:
        import wandb

        columns = ["strategy", "text", "label", "target_label", "parse_status", "kept"]
        table = wandb.Table(columns=columns, data=[[r.get(c) for c in columns] for r in rows[: self.sample_rows]])
        self.run.log({"synthetic_sample": table})

    def finish(self, failed: bool = False) -> None:
        if self.run is not None:
            self.run.finish(exit_code=1 if failed else 0)
            self.run = None
