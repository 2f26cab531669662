"""The Hydra job around one run: records success or failure on disk, and keeps a multirun going past a failure."""
from __future__ import annotations

import json
import logging
import math
import traceback
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig

log = logging.getLogger(__name__)

STATUS_FILE = "status.json"


def objective(metrics: dict[str, Any], optimized: str | list[str]) -> float | list[float]:
    """The value(s) a sweeper optimises: one metric, or several for a multi-objective (Pareto) study."""
    if isinstance(optimized, (list, tuple, ListConfig)):
        return [float(_lookup(metrics, name)) for name in optimized]
    return float(_lookup(metrics, optimized))


def _lookup(metrics: dict[str, Any], dotted: str) -> Any:
    value: Any = metrics
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"optimized_metric {dotted!r} is not in metrics.json; top-level keys: {sorted(metrics)}")
        value = value[part]
    return value


def run_job(cfg: DictConfig) -> float | list[float]:
    """Run, write status.json, and return the objective. In a multirun a failed job returns NaN instead of raising,
    so the other jobs still run; its status.json holds the error for the sweep report."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from sgen.run import run

    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        metrics = run(cfg)
        value = objective(metrics, cfg.optimized_metric)
    except Exception as exc:
        _write_status(output_dir, {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                                   "traceback": traceback.format_exc()})
        multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
        if not multirun:
            raise
        log.exception("job failed; the sweep goes on (details in %s)", output_dir / STATUS_FILE)
        optimized = cfg.optimized_metric
        return [math.nan] * len(optimized) if isinstance(optimized, (list, ListConfig)) else math.nan
    _write_status(output_dir, {"status": "ok"})
    return value


def _write_status(output_dir: Path, status: dict[str, Any]) -> None:
    (output_dir / STATUS_FILE).write_text(json.dumps(status, indent=2))
