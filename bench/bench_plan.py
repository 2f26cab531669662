"""The sweep plan against the sweep: predicted vs measured wall time per stage, and queries paid, of a real multirun.

    python -m bench.bench_plan [--strategies new_answer,rephrase] [--budgets 50,100,200] [--seed-size 25]
                               [--rates PATH | --probe]

Plans `python -m sgen -m <overrides> hydra/launcher=plan` into a temp sweep dir with a fresh SGEN_CACHE_DIR (cold:
no query cache, no converted GGUF, no seed-only score), then runs the same sweep for real into the same dir and
compares. The plan's time rates come from the rates.jsonl of earlier runs (copied from $SGEN_CACHE_DIR or
~/.cache/sgen, or --rates), or with --probe (or when none exists) from the plan's own probe.
Target: total wall time within 30% of the plan; queries paid exactly as planned (new_answer, rephrase).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import table, write_result

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["load", "finetune_teacher", "generate", "train_seed_only", "train", "eval"]


def sgen_multirun(overrides: list[str], env: dict[str, str]) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "sgen", "-m", *overrides]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=4 * 3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0, proc.stdout


def user_rates(path: str | None) -> Path | None:
    if path:
        return Path(path)
    found = Path(os.environ.get("SGEN_CACHE_DIR") or Path.home() / ".cache" / "sgen") / "rates.jsonl"
    return found if found.exists() else None


def error(predicted: float, measured: float) -> str:
    return f"{100 * (predicted - measured) / measured:+.0f}%" if measured else "-"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strategies", default="new_answer,rephrase")
    ap.add_argument("--budgets", default="50,100,200")
    ap.add_argument("--seed-size", default="25")
    ap.add_argument("--rates", default=None, help="rates.jsonl to plan with (default: the sgen cache's own)")
    ap.add_argument("--probe", action="store_true", help="ignore recorded rates: the plan probes")
    ap.add_argument("--compare", nargs=3, metavar=("PLAN_JSON", "SWEEP_DIR", "WALL_SECONDS"),
                    help="compare a plan made earlier with a sweep that ran after it (e.g. a study); runs nothing")
    ap.add_argument("--name", default="plan", help="bench/results/<name>.md")
    args = ap.parse_args(argv)
    command = "python -m bench.bench_plan " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.compare:
        plan = json.loads(Path(args.compare[0]).read_text())
        sweep = Path(args.compare[1])
        body, notes = comparison(plan, job_metrics(sweep), float(args.compare[2]), "the plan's recorded rates",
                                 None)
        path = write_result(args.name, f"Sweep plan against the sweep: {sweep.name}", command.strip(), body, notes)
        print(path.read_text())
        return
    overrides = [f"strategy={args.strategies}", f"budget.queries={args.budgets}", f"task.seed_size={args.seed_size}",
                 "progress=false"]
    with tempfile.TemporaryDirectory() as tmp:
        cache, sweep = Path(tmp) / "cache", Path(tmp) / "sweep"
        cache.mkdir()
        rates = None if args.probe else user_rates(args.rates)
        if rates is not None:
            shutil.copy(rates, cache / "rates.jsonl")
        env = {**os.environ, "SGEN_CACHE_DIR": str(cache), "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1"}
        plan_wall, plan_out = sgen_multirun([*overrides, f"hydra.sweep.dir={sweep}", "hydra/launcher=plan"], env)
        plan = json.loads((sweep / "plan.json").read_text())
        (sweep / "plan.json").rename(Path(tmp) / "plan.json")  # the sweep dir then holds only the real jobs
        wall, _ = sgen_multirun([*overrides, f"hydra.sweep.dir={sweep}"], env)
        metrics = job_metrics(sweep)
    source = "recorded rates" if rates is not None else "the plan's probe"
    body, notes = comparison(plan, metrics, wall, source, plan_wall)
    path = write_result(args.name, "Sweep plan: predicted vs measured wall time", command.strip(), body, notes)
    print(path.read_text())
    print(plan_out[-4000:])


def job_metrics(sweep: Path) -> dict[int, dict]:
    return {int(p.name): json.loads((p / "metrics.json").read_text())
            for p in sweep.iterdir() if p.is_dir() and p.name.isdigit() and (p / "metrics.json").exists()}


def comparison(plan: dict, metrics: dict[int, dict], wall: float, source: str,
               plan_wall: float | None) -> tuple[str, str]:
    """(tables, notes): predicted against measured seconds per stage and in total, and per job."""
    jobs = [j for j in plan["jobs"] if j["status"] == "run"]
    if len(metrics) != len(jobs):
        raise RuntimeError(f"planned {len(jobs)} jobs to run, {len(metrics)} wrote metrics.json")
    measured = {s: sum(m["seconds"].get(s, 0.0) for m in metrics.values()) for s in STAGES}
    measured["other"] = wall - sum(measured.values())  # start-up, writing the synthetic sets, Hydra, job overhead
    totals = plan["totals"]["seconds"]
    predicted = {s: totals.get(s, 0.0) for s in STAGES}
    predicted["other"] = totals["startup"] + totals["other"]
    stage_rows = [[s, predicted[s], measured[s], error(predicted[s], measured[s])] for s in [*STAGES, "other"]]
    stage_rows.append(["total wall", plan["totals"]["seconds_total"], wall,
                       error(plan["totals"]["seconds_total"], wall)])
    job_rows = []
    for job in jobs:
        m = metrics[job["job"]]
        done = sum(m["seconds"].get(s, 0.0) for s in STAGES)
        planned = sum(job["seconds"].get(s, 0.0) for s in STAGES)
        job_rows.append([job["job"], job["overrides"].replace(" progress=False", ""), job["paid"], m["queries_paid"],
                         planned, done, error(planned, done)])
    body = (table(["stage", "predicted s", "measured s", "error"], stage_rows) + "\n\n"
            + table(["job", "overrides", "paid (plan)", "paid (run)", "stages s (plan)", "stages s (run)", "error"],
                    job_rows))
    planning = f"{plan_wall:.0f} s to plan, " if plan_wall is not None else ""
    notes = (f"Plan from {source} ({planning}probe {plan['probe_seconds']:.0f} s); "
             f"{len(jobs)} jobs on the bundled models (SmolLM2-135M teacher, MiniLM-L6 student), fresh query cache "
             "and sgen cache. `other` is everything outside the stages: start-up and imports, writing synthetic "
             "sets, Hydra and per-job overhead. Rates used:\n\n" + "\n".join(f"- {r}" for r in plan["rates"]))
    paid_plan, paid_run = sum(j["paid"] for j in jobs), sum(m["queries_paid"] for m in metrics.values())
    notes += f"\n\nQueries paid: planned {paid_plan}, paid {paid_run}."
    return body, notes


if __name__ == "__main__":
    main()
