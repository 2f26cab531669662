"""A plan as people read it (a table per job, totals, where the times come from) and as files (plan.json, .csv)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from sgen.plan.records import FAILS, RUN, STAGES, Plan

_SHORT = {"load": "load", "finetune_teacher": "tune", "generate": "gen", "train_seed_only": "seed-only",
          "train": "train", "eval": "eval", "other": "other"}


def usd(value: float | None) -> str:
    """Dollars with the cents that matter: small sums keep four decimals (a tiny sweep costs fractions of a cent);
    '?' where a backend's price is unknown."""
    if value is None:
        return "?"
    return f"{value:,.2f}" if value >= 1 or value == 0 else f"{value:.4f}"


def dollars(value: float | None) -> str:
    return "an unknown sum (no price for a backend: set teacher.backend.price_per_million_*)" if value is None \
        else f"${usd(value)}"


def hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def format_plan(plan: Plan) -> str:
    t = plan.totals()
    stages = [s for s in STAGES if s != "finetune_teacher" or t["seconds"][s] > 0]
    head = ["#", "used", "paid", "cached", "reused", "prompt tok", "compl tok",
            *[f"{_SHORT[s]} s" for s in stages], "total", "$ paid", "overrides"]
    common = _common_overrides(plan)
    rows = []
    for job in plan.jobs:
        over = " ".join(o for o in job.overrides if o not in common) or "-"
        if job.status != RUN:
            what = f"FAILS: {job.error}" if job.status == FAILS else "done: finished in the sweep dir, skipped"
            rows.append([str(job.number), what, over])
            continue
        q = job.queries
        rows.append([str(job.number), f"{q.used:,}", f"{q.paid:,}", f"{q.cached:,}", f"{q.reused:,}",
                     f"{q.paid_prompt_tokens:,}", f"{q.paid_completion_tokens:,}",
                     *[f"{job.seconds[s]:.1f}" for s in stages], hms(job.total_seconds), usd(q.cost_usd_paid),
                     over])
    rows.append(["all", f"{t['used']:,}", f"{t['paid']:,}", f"{t['cached']:,}", f"{t['reused']:,}",
                 f"{t['paid_prompt_tokens']:,}", f"{t['paid_completion_tokens']:,}",
                 *[f"{t['seconds'][s]:.1f}" for s in stages], hms(t["seconds_total"]), usd(t["cost_usd_paid"]),
                 f"+ start-up {t['seconds']['startup']:.1f} s"])
    lines = [f"Sweep plan: {t['jobs']} jobs ({t['to_run']} to run, {t['done']} finished already, "
             f"{t['failing']} failing). " + ("Nothing was run." if not plan.probe_seconds else
                                             f"Nothing was run but a {plan.probe_seconds:.1f} s probe."),
             "Queries: used by the jobs / paid to the teacher / already in the query cache / paid by an earlier job "
             "of this sweep (nested budgets); tokens of the paid queries.",
             *([f"Every job: {' '.join(common)}"] if common else []), "", *_aligned(head, rows), ""]
    lines += [f"Total: {t['paid']:,} queries to pay of {t['used']:,} used ({t['cached']:,} in the cache, "
              f"{t['reused']:,} reused within the sweep); {t['paid_prompt_tokens']:,} prompt + "
              f"{t['paid_completion_tokens']:,} completion tokens to generate; {dollars(t['cost_usd_paid'])} to pay "
              f"({dollars(t['cost_usd_list'])} at list price for every query used).",
              f"Wall time, jobs one after another: {hms(t['seconds_total'])} (start-up "
              f"{t['seconds']['startup']:.0f} s, " + ", ".join(f"{s} {t['seconds'][s]:.0f} s" for s in stages) + ")."]
    notes = sorted({n for job in plan.jobs for n in job.notes if job.status == RUN})
    lines += ["Times from:", *[f"  {line}" for line in plan.rates]]
    if notes or plan.notes:
        lines += ["Notes:", *[f"  {n}" for n in [*plan.notes, *notes]]]
    return "\n".join(lines) + "\n"


def _common_overrides(plan: Plan) -> list[str]:
    """Overrides every job shares (printed once), in the first job's order; none for a single job."""
    if len(plan.jobs) < 2:
        return []
    shared = set.intersection(*(set(job.overrides) for job in plan.jobs))
    return [o for o in plan.jobs[0].overrides if o in shared]


def _aligned(head: list[str], rows: list[list[str]]) -> list[str]:
    """Right-aligned number columns; the last column (overrides) and short rows (failing jobs) stay as they are."""
    full = [r for r in rows if len(r) == len(head)]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *full, strict=True)]
    out = []
    for row in [head, *rows]:
        if len(row) == len(head):
            out.append("  ".join(str(v).rjust(w) for v, w in zip(row[:-1], widths[:-1], strict=True)) + "  " + row[-1])
        else:
            out.append(str(row[0]).rjust(widths[0]) + "  " + "  ".join(row[1:]))
    return out


def write_plan(plan: Plan, folder: Path) -> tuple[Path, Path]:
    """plan.json (everything) and plan.csv (one row per job) in the sweep dir."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = folder / "plan.json", folder / "plan.csv"
    json_path.write_text(json.dumps(plan.to_json(), indent=2))
    rows = [job.row() for job in plan.jobs]
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["job"])
        writer.writeheader()
        writer.writerows(rows)
    return json_path, csv_path
