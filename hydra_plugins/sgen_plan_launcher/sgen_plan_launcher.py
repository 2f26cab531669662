"""The public launcher class Hydra discovers; the work (and sgen's heavy imports) lives in _impl, loaded on use."""
from __future__ import annotations

from typing import Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from .config import PlanLauncherConf  # noqa: F401  (importing registers the config)


class PlanLauncher(Launcher):
    """Plans the jobs it is given: prints and saves what they would pay and take, and runs none of them."""

    def __init__(self, probe: str = "auto") -> None:
        from ._impl import PlanLauncherImpl

        self.launcher = PlanLauncherImpl(probe=probe)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.launcher.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        return self.launcher.launch(job_overrides, initial_job_idx)
