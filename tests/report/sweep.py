"""One tiny real sweep (and its report) shared by every report test of a session: built once, then reused."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import TINY, run_sgen

# 2 strategies x 2 budgets x 2 seed sizes = 8 jobs, through `python -m sgen -m` as a user types it.
GRID = ["strategy=new_answer,rephrase", "budget=100q,300q", "task.seed_size=50,100"]
GRID_JOBS = {(s, b, n) for s in ("new_answer", "rephrase") for b in (100, 300) for n in (50, 100)}
# A job that must fail before any query: more seed examples than the task has training rows.
BROKEN = ["task.seed_size=100000", "strategy=new_answer"]


def _env(tmp_path_factory) -> dict[str, str]:
    return {"SGEN_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "sgen-cache"), "WANDB_MODE": "offline"}


def tiny_sweep(tmp_path_factory) -> Path:
    """<root>/grid/0..7 (the 8 grid jobs) and <root>/broken/0 (one failed job). Idempotent within a session, so
    test modules that each hold a module-scoped fixture over it share one sweep."""
    root = tmp_path_factory.getbasetemp() / "tiny_sweep"
    done = root / ".complete"
    if done.exists():
        return root
    root.mkdir(exist_ok=True)
    run_sgen("-m", *TINY, *GRID, f"hydra.sweep.dir={root / 'grid'}", env=_env(tmp_path_factory))
    # A multirun goes on past a failed job and exits 0; the job's status.json holds the error.
    run_sgen("-m", *TINY, *BROKEN, f"hydra.sweep.dir={root / 'broken'}", env=_env(tmp_path_factory))
    done.touch()
    return root


def tiny_report(tmp_path_factory):
    """The report of `tiny_sweep`, built in-process once per session."""
    from sgen.report import build_report

    root = tiny_sweep(tmp_path_factory)
    out = tmp_path_factory.getbasetemp() / "tiny_sweep_report"
    if not (out / "report.html").exists():
        build_report(root, out, wandb=False)
    return root, out
