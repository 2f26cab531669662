"""Compose each job's config as Hydra's BasicLauncher does, plan them all with sgen.plan, run none."""
from __future__ import annotations

import copy
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict, read_write

log = logging.getLogger(__name__)

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


class PlanLauncherImpl(Launcher):
    def __init__(self, probe: str = "auto") -> None:
        self.probe = str(probe)
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.specs: list = []  # every job of every batch so far: a later batch reuses what earlier ones pay

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        sweeper = str(config.hydra.sweeper.get("_target_", BASIC_SWEEPER))
        if sweeper != BASIC_SWEEPER:
            # Before the sweeper stores anything: an Optuna study would record every planned trial as failed.
            raise ValueError(f"hydra/launcher=plan plans the jobs of Hydra's basic sweeper, but hydra.sweeper is "
                             f"{sweeper}, which picks its trials from results a plan does not have; plan a grid "
                             f"(python -m sgen -m a=x,y b=... hydra/launcher=plan) instead")
        self.config, self.hydra_context = config, hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from sgen.plan import JobSpec, format_plan, plan_jobs, write_plan
        from sgen.throughput import process_age

        # Interpreter, Hydra and sgen's imports so far: what a sweep's start-up costs when none was recorded.
        startup_now = process_age() or None
        assert self.config is not None and self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        log.info("Planning %d jobs: nothing runs (hydra/launcher=plan)", len(job_overrides))
        returns = []
        for idx, overrides in enumerate(job_overrides):
            number = initial_job_idx + idx
            shown = list(filter_overrides(overrides))
            try:
                cfg, hydra_cfg = self._job_config(list(overrides), number)
                self.specs.append(JobSpec(number, shown, cfg))
            except Exception as exc:  # a job whose config does not compose: planned as failing, with the reason
                cfg = hydra_cfg = None
                self.specs.append(JobSpec(number, shown, None, f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
            ret = JobReturn(overrides=list(overrides), cfg=cfg, hydra_cfg=hydra_cfg, working_dir=os.getcwd(),
                            status=JobStatus.COMPLETED)
            ret.return_value = None  # planned, not run: there is no metric
            returns.append(ret)
        plan = plan_jobs(self.specs, probe=self.probe, startup_now=startup_now)
        json_path, csv_path = write_plan(plan, sweep_dir)
        # The plan is this command's output: a table on stdout, as a CLI prints its result.
        sys.stdout.write(format_plan(plan) + f"Plan written to {json_path} and {csv_path}\n")
        sys.stdout.flush()
        return returns

    def _job_config(self, overrides: list[str], number: int) -> tuple[DictConfig, DictConfig]:
        """(the job's task config, its hydra config), as run_job sees them, with the job dir as a plain path."""
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = number
            sweep_config.hydra.job.num = number
        before = HydraConfig.instance().cfg
        HydraConfig.instance().set_config(sweep_config)
        try:
            output_dir = os.path.abspath(os.path.join(str(sweep_config.hydra.sweep.dir),
                                                      str(sweep_config.hydra.sweep.subdir)))
            with read_write(sweep_config.hydra.runtime), open_dict(sweep_config.hydra.runtime):
                sweep_config.hydra.runtime.output_dir = output_dir
            task_cfg = copy.deepcopy(sweep_config)
            with read_write(task_cfg), open_dict(task_cfg):
                del task_cfg["hydra"]
                task_cfg.paths.output_dir = output_dir  # a plain path: planning runs after Hydra moved on
            return task_cfg, copy.deepcopy(sweep_config)
        finally:
            HydraConfig.instance().cfg = before
