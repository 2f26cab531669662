"""The public sweeper class Hydra discovers; the work (and the optuna import) lives in _impl, loaded on use."""
from __future__ import annotations

from typing import Any, List, Optional

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from .config import SamplerConf, SgenOptunaSweeperConf  # noqa: F401  (importing registers the config)


class SgenOptunaSweeper(Sweeper):
    """Asks Optuna for trials, launches them as Hydra jobs, and tells Optuna the jobs' returned metrics."""

    def __init__(self, study_name: str, storage: Optional[str], direction: Any, n_trials: int, n_jobs: int,
                 sampler: DictConfig, params: Optional[DictConfig]) -> None:
        from ._impl import SgenOptunaSweeperImpl

        self.sweeper = SgenOptunaSweeperImpl(study_name=study_name, storage=storage, direction=direction,
                                             n_trials=n_trials, n_jobs=n_jobs, sampler=sampler, params=params)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> None:
        return self.sweeper.sweep(arguments)
