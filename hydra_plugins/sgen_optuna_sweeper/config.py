"""Structured config of the sgen Optuna sweeper, registered as `hydra/sweeper=sgen_optuna`.

No `from __future__ import annotations` here: Hydra's plugin scanner runs this module before it is in sys.modules,
and dataclasses then cannot resolve string annotations.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class SamplerConf:
    # tpe (the default, single and multi-objective), random, or nsga2 (multi-objective, needs many trials).
    name: str = "tpe"
    # With a seed a fresh study is reproducible; a resumed study offsets it by the trials already stored, so it
    # does not replay the first trials' parameters.
    seed: Optional[int] = None


@dataclass
class SgenOptunaSweeperConf:
    _target_: str = "hydra_plugins.sgen_optuna_sweeper.sgen_optuna_sweeper.SgenOptunaSweeper"
    # Rerunning with the same study_name and storage resumes the study.
    study_name: str = "sgen"
    # An SQLAlchemy URL (sqlite:///abs/path.db) or a plain file path for SQLite; null means
    # <hydra.sweep.dir>/optuna.db, so a sweep resumes when it is rerun into the same sweep dir.
    storage: Optional[str] = None
    # "maximize" / "minimize", or a list with one direction per name in optimized_metric (multi-objective).
    direction: Any = "maximize"
    # Total trials the study should hold when the sweep ends: a resumed study runs only the missing ones.
    n_trials: int = 20
    # Trials asked for and launched together in one batch (parallel with a parallel launcher).
    n_jobs: int = 1
    sampler: SamplerConf = field(default_factory=SamplerConf)
    # Search space in Hydra override syntax, key -> value: interval(0,1), int(interval(1,5)),
    # tag(log, interval(1e-4,1)), choice(a,b), range(1,5), or a fixed value passed to every trial.
    params: Dict[str, Any] = field(default_factory=dict)


ConfigStore.instance().store(group="hydra/sweeper", name="sgen_optuna", node=SgenOptunaSweeperConf,
                             provider="sgen_optuna_sweeper")
