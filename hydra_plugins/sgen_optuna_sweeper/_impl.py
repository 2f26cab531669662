"""The sweep loop: ask Optuna for a batch of trials, launch them as Hydra jobs, tell Optuna what they returned."""
from __future__ import annotations

import logging
import math
import os
import socket
import time
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, ListConfig, OmegaConf
from optuna.trial import FrozenTrial, Trial, TrialState

from sgen.budget.cache import process_alive, process_start
from sgen.redact import redact_url, url_password

from ._results import write_results
from ._space import SearchSpace

log = logging.getLogger(__name__)

DIRECTIONS = ("maximize", "minimize")
SAMPLERS = ("tpe", "random", "nsga2")
FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)
ORPHANED = "orphaned"
UNSIGNED_GRACE_S = 60.0


def make_sampler(name: str, seed: int | None) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise ValueError(f"hydra.sweeper.sampler.name={name!r} is unknown; valid: {list(SAMPLERS)}")


def storage_url(storage: str | None, sweep_dir: Path) -> str:
    """An SQLAlchemy URL: optuna.db in the sweep dir, a plain path made into SQLite, or the given URL. A PostgreSQL
    URL as libpq spells it (the query cache's cache.url / SGEN_CACHE_URL) gets psycopg 3, the driver sgen installs,
    so one database can hold the query cache and the study."""
    if storage and "://" in storage:
        scheme, rest = storage.split("://", 1)
        return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else storage
    path = Path(storage) if storage else sweep_dir / "optuna.db"
    path = path.expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _this_process() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start(pid)}"


def _owner_alive(trial: FrozenTrial) -> bool:
    """Whether the sweeper process that asked a trial still runs. Another host's process cannot be checked: it
    counts as alive (its RUNNING trials stay counted until that sweeper tells them)."""
    owner = str(trial.user_attrs.get("sweeper", ""))
    if not owner:
        # A sweeper signs a trial right after asking for it: unsigned and recent is that moment (another sweeper
        # must not fail it then); unsigned and older was asked before sweepers signed their trials.
        started = trial.datetime_start or datetime.now()
        return (datetime.now() - started).total_seconds() < UNSIGNED_GRACE_S
    host, _, rest = owner.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    return process_alive(int(pid), start)


class SgenOptunaSweeperImpl(Sweeper):
    def __init__(self, study_name: str, storage: str | None, direction: Any, n_trials: int, n_jobs: int,
                 sampler: DictConfig, params: DictConfig | None) -> None:
        self.study_name = study_name
        self.storage = storage
        self.directions = _directions(direction)
        if n_trials < 1 or n_jobs < 1:
            raise ValueError(f"hydra.sweeper.n_trials={n_trials} and n_jobs={n_jobs} must both be >= 1")
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.sampler_name = str(sampler.get("name", "tpe"))
        self.sampler_seed = sampler.get("seed")
        make_sampler(self.sampler_name, self.sampler_seed)  # an unknown sampler fails now, before any job
        self.params = OmegaConf.to_container(params, resolve=True) if params is not None else {}

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function)
        self.sweep_dir = Path(config.hydra.sweep.dir)

    def sweep(self, arguments: list[str]) -> None:
        # Everything that can be wrong with the set-up fails here, before a job (or a teacher query) runs.
        self._check_storage_secret()
        space = SearchSpace.parse(self.params, arguments)
        metric_names = self._metric_names()
        self.validate_batch_is_legal([space.overrides(space.corner())])
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, self.sweep_dir / "multirun.yaml")

        study = self._load_study(metric_names)
        self._fail_orphans(study)
        log.info("study %r in %s: %d of %d trials finished, directions %s, sampler %s", study.study_name,
                 redact_url(self.storage_url), self._taken(study), self.n_trials, self.directions, self.sampler_name)
        # n_trials is the study's total: sweepers on several nodes sharing one storage stop together at it.
        while (left := self.n_trials - self._taken(study)) > 0:
            trials = [study.ask(space.distributions) for _ in range(min(self.n_jobs, left))]
            for trial in trials:
                trial.set_user_attr("sweeper", _this_process())
            self._run_batch(study, trials, space)
        write_results(study, self.sweep_dir, redact_url(self.storage_url))

    def _check_storage_secret(self) -> None:
        """A password typed into hydra.sweeper.storage is saved by Hydra in the sweep dir (multirun.yaml); one read
        from the environment (${oc.env:SGEN_CACHE_URL}) is saved as the interpolation."""
        node = self.config.hydra.sweeper._get_node("storage") if "storage" in self.config.hydra.sweeper else None
        if node is None or node._is_interpolation() or node._value() is None:
            return
        if url_password(str(node._value())):
            raise ValueError(f"hydra.sweeper.storage={redact_url(str(node._value()))!r} carries a password, which "
                             "Hydra saves in the sweep dir; use 'hydra.sweeper.storage=${oc.env:SGEN_CACHE_URL}' (or "
                             "another variable), or the password in PGPASSWORD or ~/.pgpass")

    @staticmethod
    def _taken(study: optuna.Study) -> int:
        """Trials finished (an orphan aside), or running in a sweeper that is alive (this one or another sharing
        the storage)."""
        def taken(t: FrozenTrial) -> bool:
            if t.state == TrialState.RUNNING:
                return _owner_alive(t)
            return t.state in FINISHED and not str(t.user_attrs.get("fail_reason", "")).startswith(ORPHANED)

        return sum(taken(t) for t in study.get_trials(deepcopy=False))

    @staticmethod
    def _fail_orphans(study: optuna.Study) -> None:
        """A sweeper killed mid-batch leaves RUNNING trials nobody will tell: fail them and run others instead (a
        trial its sweeper never finished does not use up n_trials)."""
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if not _owner_alive(t):
                Trial(study, t._trial_id).set_user_attr("fail_reason", f"{ORPHANED}: its sweeper is gone")
                study.tell(t.number, state=TrialState.FAIL)
                log.warning("trial %d was left running by a sweeper that is gone: marked failed", t.number)

    def _load_study(self, metric_names: list[str] | None) -> optuna.Study:
        self.storage_url = storage_url(self.storage, self.sweep_dir)
        study = _create_or_load(self.study_name, self.storage_url, self.directions)
        stored = [d.name.lower() for d in study.directions]
        if stored != self.directions:
            raise ValueError(f"study {self.study_name!r} in {redact_url(self.storage_url)} has directions {stored}, "
                             f"but hydra.sweeper.direction is {self.directions}; use another study_name or storage")
        if metric_names and study.metric_names is None:
            with warnings.catch_warnings():  # set_metric_names is marked experimental; it only labels the values
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.set_metric_names(metric_names)
        # A seeded sampler restarted on a resumed study would replay the first trials' draws: offset the seed.
        seed = None if self.sampler_seed is None else int(self.sampler_seed) + len(study.trials)
        study.sampler = make_sampler(self.sampler_name, seed)
        return study

    def _metric_names(self) -> list[str] | None:
        """The names in sgen's optimized_metric, checked against the number of directions."""
        optimized = self.config.get("optimized_metric")
        if optimized is None:
            return None
        names = list(optimized) if isinstance(optimized, (list, ListConfig)) else [optimized]
        if len(names) != len(self.directions):
            raise ValueError(f"optimized_metric {names} has {len(names)} objective(s) but hydra.sweeper.direction "
                             f"{self.directions} has {len(self.directions)}; give one direction per metric")
        return [str(n) for n in names]

    def _run_batch(self, study: optuna.Study, trials: list[Trial], space: SearchSpace) -> None:
        overrides = [space.overrides(trial.params) for trial in trials]
        first = trials[0].number
        if [t.number for t in trials] != list(range(first, first + len(trials))):
            log.warning("trial numbers %s are not consecutive (another process shares the study); job dirs are "
                        "numbered from %d", [t.number for t in trials], first)
        try:
            # Job number = trial number, so a resumed study never writes into an earlier trial's job dir.
            returns = self.launcher.launch(overrides, initial_job_idx=first)
        except BaseException:
            for trial in trials:
                study.tell(trial, state=TrialState.FAIL)
            raise
        for trial, ret in zip(trials, returns, strict=True):
            values, reason = _objective_values(ret, len(self.directions))
            output_dir = _output_dir(ret)
            if output_dir:
                trial.set_user_attr("output_dir", output_dir)
            if values is None:
                trial.set_user_attr("fail_reason", reason)
                study.tell(trial, state=TrialState.FAIL)
                log.warning("trial %d failed (%s); the study goes on", trial.number, reason)
            else:
                study.tell(trial, values=values)
                log.info("trial %d: %s -> %s", trial.number, trial.params, values)


def _create_or_load(name: str, url: str, directions: list[str], attempts: int = 5) -> optuna.Study:
    """Sweepers on several nodes starting at once all create Optuna's tables; on PostgreSQL one CREATE TYPE wins
    and the others fail on the catalog. Those retry: by then the tables exist and they load the study."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(attempts):
        try:
            return optuna.create_study(study_name=name, storage=url, directions=directions, load_if_exists=True)
        except (IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            log.info("another sweeper is creating the study's tables in %s; retrying", redact_url(url))
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _directions(direction: Any) -> list[str]:
    values = list(direction) if isinstance(direction, (list, tuple, ListConfig)) else [direction]
    names = [str(d).lower() for d in values]
    bad = [d for d in names if d not in DIRECTIONS]
    if not names or bad:
        raise ValueError(f"hydra.sweeper.direction={direction!r}: each direction must be one of {list(DIRECTIONS)}")
    return names


def _objective_values(ret: JobReturn, n_objectives: int) -> tuple[list[float] | None, str]:
    """The job's objective values, or None and why the trial failed (an exception, NaN, or a wrong shape)."""
    try:
        value = ret.return_value
    except Exception as exc:  # the job raised; JobReturn re-raises it here
        return None, f"job raised {type(exc).__name__}: {exc}"
    raw: Sequence[Any] = value if isinstance(value, (list, tuple, ListConfig)) else [value]
    if len(raw) != n_objectives:
        return None, f"job returned {value!r}, expected {n_objectives} objective value(s)"
    try:
        values = [float(v) for v in raw]
    except (TypeError, ValueError):
        return None, f"job returned {value!r}, which is not a number per objective"
    if any(math.isnan(v) for v in values):
        return None, f"job returned NaN ({value!r}); its status.json says why"
    return values, ""


def _output_dir(ret: JobReturn) -> str | None:
    hydra_cfg = ret.hydra_cfg
    if hydra_cfg is None:
        return None
    return str(OmegaConf.select(hydra_cfg, "hydra.runtime.output_dir", default=None) or "") or None
