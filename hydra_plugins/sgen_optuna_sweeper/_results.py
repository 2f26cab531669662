"""What a finished sweep leaves in its sweep dir: the best trial, or the Pareto front, and every trial's outcome."""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)

RESULTS_FILE = "optimization_results.yaml"


def write_results(study: optuna.Study, sweep_dir: Path, storage_url: str) -> Path:
    """Write optimization_results.yaml and log the best trial(s). Raises if not one trial completed."""
    names = study.metric_names or [f"objective_{i}" for i in range(len(study.directions))]
    trials = study.trials
    states = Counter(t.state.name.lower() for t in trials)
    results: dict[str, Any] = {
        "study_name": study.study_name,
        "storage": storage_url,
        "directions": [d.name.lower() for d in study.directions],
        "metric_names": list(names),
        "trial_states": dict(states),
    }
    best: list[FrozenTrial] = []
    if states.get("complete"):
        # best_trials of a single-objective study holds every trial tied for best; report the first of them.
        best = [study.best_trial] if len(study.directions) == 1 else study.best_trials
    if len(study.directions) == 1:
        results["best"] = _trial_record(best[0], names) if best else None
    else:
        results["pareto_front"] = [_trial_record(t, names) for t in sorted(best, key=lambda t: t.number)]
    results["trials"] = [_trial_record(t, names) for t in trials]
    path = sweep_dir / RESULTS_FILE
    path.write_text(yaml.safe_dump(results, sort_keys=False))
    if not best:
        raise RuntimeError(f"no trial of study {study.study_name!r} completed ({dict(states)}); "
                           f"each failed job's status.json says why; results in {path}")
    for trial in best:
        log.info("%s trial %d: %s -> %s (%s)", "best" if len(best) == 1 and len(study.directions) == 1 else "pareto",
                 trial.number, trial.params, dict(zip(names, trial.values)), trial.user_attrs.get("output_dir"))
    log.info("trial states %s; results in %s", dict(states), path)
    return path


def _trial_record(trial: FrozenTrial, names: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"number": trial.number, "state": trial.state.name.lower(), "params": dict(trial.params)}
    if trial.state == TrialState.COMPLETE:
        record["values"] = dict(zip(names, trial.values))
    for key in ("output_dir", "fail_reason"):
        if key in trial.user_attrs:
            record[key] = trial.user_attrs[key]
    return record
