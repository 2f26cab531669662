"""plan_jobs: what a sweep will pay and how long it will take, without running it."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from sgen.plan.dry_run import JobQueries, PlanState, dry_run
from sgen.plan.estimate import stage_seconds
from sgen.plan.probe import ProbeRequest, may_probe, run_probe
from sgen.plan.rates import RateBook
from sgen.plan.records import DONE, FAILS, RUN, JobPlan, JobSpec, Plan
from sgen.config import quiet_third_party_logs
from sgen.job import finished_metrics

log = logging.getLogger(__name__)

PROBE_MODES = ("auto", "true", "false")


def plan_jobs(jobs: Sequence[DictConfig | JobSpec], probe: str = "auto", book: RateBook | None = None,
              startup_now: float | None = None) -> Plan:
    """Plan the jobs in order, as a sequential sweep runs them. Runs nothing, except a short probe of a backend
    or student that no run on this machine has measured (probe: auto = local backends and students; true = also
    served backends, which pays a few queries; false = never: their times show as unknown). `startup_now`: this
    process's own start-up, the sweep's start-up to expect when none was recorded."""
    quiet_third_party_logs()
    probe = str(probe).lower()
    if probe not in PROBE_MODES:
        raise ValueError(f"hydra.launcher.probe={probe!r} is not valid; valid: {', '.join(PROBE_MODES)}")
    specs = [j if isinstance(j, JobSpec) else JobSpec(i, [], j) for i, j in enumerate(jobs)]
    book = book or RateBook.load()
    state = PlanState(book)
    planned = _dry_run_all(specs, state)
    probe_seconds = 0.0
    for request in _probe_requests(specs, planned, state, book, probe):
        record = run_probe(request)
        book.add(record)
        probe_seconds += record["seconds"]
    if probe_seconds:  # measured completions replace placeholders: plan again with them
        state.close()
        state = state.fresh()
        planned = _dry_run_all(specs, state)
    state.close()
    startup, job_overhead, overhead_source = book.overheads(startup_now)
    out = []
    for spec, job in zip(specs, planned, strict=True):
        if isinstance(job, JobQueries):
            seconds, notes = stage_seconds(job, book, state, job_overhead)
            out.append(JobPlan(spec.number, spec.overrides, _output_dir(spec.cfg), RUN, queries=job,
                               seconds=seconds, notes=notes))
        else:
            out.append(job)
    rates = _rate_lines(state, book, probe_seconds) + [overhead_source]
    return Plan(out, startup, rates, probe_seconds)


def _dry_run_all(specs: list[JobSpec], state: PlanState) -> list[JobQueries | JobPlan]:
    out: list[JobQueries | JobPlan] = []
    for spec in specs:
        output_dir = _output_dir(spec.cfg)
        if spec.cfg is None:
            out.append(JobPlan(spec.number, spec.overrides, output_dir, FAILS, error=spec.error))
            continue
        if output_dir and finished_metrics(spec.cfg, Path(output_dir)) is not None:
            out.append(JobPlan(spec.number, spec.overrides, output_dir, DONE,
                               notes=["finished in the sweep dir: the sweep skips it"]))
            continue
        try:
            out.append(dry_run(spec.cfg, state))
        except Exception as exc:  # what the real job would stop with, before its first query
            log.debug("job %d fails", spec.number, exc_info=True)
            message = " ".join(str(exc).split())
            out.append(JobPlan(spec.number, spec.overrides, output_dir, FAILS, error=f"{type(exc).__name__}: "
                               f"{message}"))
    return out


def _probe_requests(specs: list[JobSpec], planned: list, state: PlanState, book: RateBook,
                    mode: str) -> list[ProbeRequest]:
    """One request per task for the backends and students no measurement covers (and that may be probed)."""
    requests: dict[str, ProbeRequest] = {}
    for spec, job in zip(specs, planned, strict=True):
        if not isinstance(job, JobQueries):
            continue
        request = requests.setdefault(job.task, ProbeRequest(job.task))
        for sid in job.teacher_setups:
            backend_cfg = state.backend_cfgs[sid]
            groups = [(state.first.params[key], prompts) for key, prompts in state.first.prompts.items()
                      if key[:2] == (job.task, sid) and not book.samples(sid, key[2], job.task)]
            if (groups or not book.has_calls(sid)) and may_probe(backend_cfg, mode) and sid not in request.backends:
                request.backends[sid] = backend_cfg
                request.groups[sid] = groups
        if not book.has_student(job.student_setup) and mode != "false" \
                and job.student_setup not in request.students:
            task, data = state.load_task(spec.cfg.task, int(spec.cfg.seed))
            request.students[job.student_setup] = (spec.cfg.student, task, data)
    return [r for r in requests.values() if not r.empty()]


def _rate_lines(state: PlanState, book: RateBook, probe_seconds: float) -> list[str]:
    lines = []
    for sid, setup in state.setups.items():
        if "backend" in setup:
            backend = setup["backend"]
            name = backend.get("model") or backend.get("_target_")
            lines.append(f"teacher backend {name} ({setup['threads']} threads, {setup['device']}): "
                         f"{book.describe_backend(sid)}")
        else:
            lines.append(f"student {setup['student'].get('model')} on {setup['task']}: {book.describe_student(sid)}")
    if probe_seconds:
        lines.append(f"probe run now: {probe_seconds:.1f} s (it measured what no recorded run on this machine had)")
    return lines


def _output_dir(cfg: DictConfig | None) -> str:
    if cfg is None:
        return ""
    try:
        return str(cfg.paths.output_dir)
    except Exception:  # an interpolation that needs Hydra's runtime (plan_jobs called outside a launcher)
        return ""
