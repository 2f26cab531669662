"""What a plan says, as plain records: one JobPlan per job and the Plan's totals."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig

from sgen.plan.dry_run import JobQueries
from sgen.teachers.pricing import total as cost_total

#: Stages in run order; `other` is writing the synthetic set plus the job's own overhead (Hydra, metrics, status).
STAGES = ("load", "finetune_teacher", "generate", "train_seed_only", "train", "eval", "other")
RUN, DONE, FAILS = "run", "done", "fails"


@dataclass
class JobSpec:
    """One job to plan: its number and overrides in the sweep, and its composed config (None if it failed)."""

    number: int
    overrides: list[str]
    cfg: DictConfig | None
    error: str | None = None


@dataclass
class JobPlan:
    number: int
    overrides: list[str]
    output_dir: str
    status: str  # run, done (finished in the sweep dir: skipped), fails (the error the run would stop with)
    error: str | None = None
    queries: JobQueries | None = None
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    notes: list[str] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def row(self) -> dict[str, Any]:
        """The flat record of plan.csv (plan.json holds the same plus the notes)."""
        q = self.queries
        numbers = {k: getattr(q, k) if q else 0 for k in (
            "budget", "used", "paid", "cached", "reused", "prompt_tokens", "completion_tokens",
            "paid_prompt_tokens", "paid_completion_tokens", "n_train")}
        return {"job": self.number, "overrides": " ".join(self.overrides), "status": self.status,
                "error": self.error or "", **numbers,
                "cost_usd_paid": q.cost_usd_paid if q else 0.0, "cost_usd_list": q.cost_usd if q else 0.0,
                **{f"seconds_{k}": round(v, 3) for k, v in self.seconds.items()},
                "seconds_total": round(self.total_seconds, 3), "output_dir": self.output_dir}


@dataclass
class Plan:
    jobs: list[JobPlan]
    startup_seconds: float  # interpreter, imports, Hydra: once before the first job that runs
    rates: list[str]  # which measurements every time comes from
    probe_seconds: float = 0.0  # what this plan itself ran (0: nothing)
    notes: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        run = [j for j in self.jobs if j.status == RUN]
        total = {k: sum(getattr(j.queries, k) for j in run) for k in (
            "used", "paid", "cached", "reused", "prompt_tokens", "completion_tokens", "paid_prompt_tokens",
            "paid_completion_tokens")}
        stages = {k: sum(j.seconds[k] for j in run) for k in STAGES}
        startup = self.startup_seconds if run else 0.0
        return {"jobs": len(self.jobs), "to_run": len(run), "done": sum(j.status == DONE for j in self.jobs),
                "failing": sum(j.status == FAILS for j in self.jobs), **total,
                "cost_usd_paid": cost_total(j.queries.cost_usd_paid for j in run),
                "cost_usd_list": cost_total(j.queries.cost_usd for j in run),
                "seconds": {"startup": startup, **stages}, "seconds_total": startup + sum(stages.values())}

    def to_json(self) -> dict[str, Any]:
        jobs = []
        for job in self.jobs:
            record = {**job.row(), "seconds": job.seconds, "notes": job.notes}
            if job.queries is not None:
                record["queries_by_role"] = job.queries.by_role
                record["placeholder_answers"] = job.queries.placeholder_answers
            jobs.append(record)
        return {"nothing_was_run": self.probe_seconds == 0.0, "probe_seconds": self.probe_seconds,
                "totals": self.totals(), "rates": self.rates, "notes": self.notes, "jobs": jobs}
