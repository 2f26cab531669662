"""The Hydra job around one run: records success or failure on disk, and keeps a multirun going past a failure."""
from __future__ import annotations

import copy
import json
import logging
import math
import traceback
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from sgen.cache_keys import RESULT_NEUTRAL_KEYS
from sgen.errors import UserInputError, root_cause

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
    saved = finished_metrics(cfg, output_dir)
    if saved is not None:  # a rerun of a sweep into the same directory skips its finished jobs
        return objective(saved, cfg.optimized_metric)
    try:
        metrics = run(cfg)
        value = objective(metrics, cfg.optimized_metric)
    except Exception as exc:
        # Bad input is recorded under the error that found it (ValueError, FileNotFoundError, ...).
        kind = type(root_cause(exc) if isinstance(exc, UserInputError) else exc).__name__
        _write_status(output_dir, {"status": "failed", "error": f"{kind}: {exc}",
                                   "traceback": traceback.format_exc()})
        multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
        if not multirun:
            raise
        log.exception("job failed; the sweep goes on (details in %s)", output_dir / STATUS_FILE)
        optimized = cfg.optimized_metric
        return [math.nan] * len(optimized) if isinstance(optimized, (list, ListConfig)) else math.nan
    _write_status(output_dir, {"status": "ok"})
    return value


def finished_metrics(cfg: DictConfig, output_dir: Path) -> dict[str, Any] | None:
    """The saved metrics when output_dir already holds a successful run of this same config, else None."""
    status, metrics, saved = (output_dir / name for name in (STATUS_FILE, "metrics.json", "config_resolved.yaml"))
    if not (status.exists() and metrics.exists() and saved.exists()):
        return None
    try:
        if json.loads(status.read_text()).get("status") != "ok":
            return None
        before = OmegaConf.to_container(OmegaConf.load(saved), resolve=False)
        result = json.loads(metrics.read_text())
    except (OSError, ValueError) as exc:
        log.warning("cannot read the earlier run in %s (%s): running again", output_dir, exc)
        return None
    # Take the neutral keys from the saved run before resolving: others interpolate them (${progress}).
    probe = copy.deepcopy(cfg)
    with open_dict(probe):
        for key in RESULT_NEUTRAL_KEYS:
            if key in before:
                probe[key] = before[key]
    now = OmegaConf.to_container(OmegaConf.create(OmegaConf.to_yaml(probe, resolve=True)), resolve=False)
    if before != now:
        log.info("%s holds a finished run of another config: running again", output_dir)
        return None
    log.info("skipping: %s already holds a finished run of this config; returning its metrics.json", output_dir)
    return result


def _write_status(output_dir: Path, status: dict[str, Any]) -> None:
    (output_dir / STATUS_FILE).write_text(json.dumps(status, indent=2))
