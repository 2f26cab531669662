"""Everything `python -m sgen.report` writes for one sweep: tables (runs, cells, crossovers within and beyond the
grid, learning curves, advice), plots, HTML, W&B."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sgen.report.analysis import analyze
from sgen.report.gather import load_sweeps
from sgen.report.html import render_plots, write_report
from sgen.report.summary import finished

log = logging.getLogger(__name__)


@dataclass
class ReportFiles:
    """Paths of what a report wrote, plus the W&B summary run's folder when one was logged."""
    out_dir: Path
    runs_csv: Path
    runs_parquet: Path
    crossovers_csv: Path
    recommendations_csv: Path
    html: Path
    plots: dict[str, Path] = field(default_factory=dict)
    wandb_dir: Path | None = None
    cells_csv: Path | None = None
    extrapolated_csv: Path | None = None
    curves_csv: Path | None = None
    trust_csv: Path | None = None


def uses_wandb(df: pd.DataFrame) -> bool:
    """True when the sweep's runs logged to W&B (logger=wandb), so the summary belongs there too."""
    return bool("logger" in df and (df["logger"] == "WandbTracker").any())


def build_report(sweep_dir: str | Path | Sequence[str | Path], out_dir: str | Path | None = None,
                 metric: str = "accuracy", wandb: bool | None = None, title: str | None = None) -> ReportFiles:
    """Gather a sweep (or several, as one table) and write its report to `out_dir` (default `<sweep_dir>/report`;
    required for several). `wandb=None` logs a W&B summary run only when the runs themselves used W&B."""
    dirs = [Path(sweep_dir)] if isinstance(sweep_dir, (str, Path)) else [Path(d) for d in sweep_dir]
    if (len(dirs) > 1 or dirs[0].is_file()) and out_dir is None:
        what = f"{len(dirs)} sweeps" if len(dirs) > 1 else f"the runs table {dirs[0]}"
        raise FileNotFoundError(f"a report over {what} needs an output folder: add --out DIR")
    sweep_dir = dirs[0]
    # Check the sweep path and the metric first: a typo must not leave a half-written report folder behind.
    df = load_sweeps(dirs)
    finished(df, metric)
    out = Path(out_dir) if out_dir is not None else sweep_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out_dir=out, runs_csv=out / "runs.csv", runs_parquet=out / "runs.parquet",
                        crossovers_csv=out / "crossovers.csv", recommendations_csv=out / "recommendations.csv",
                        html=out / "report.html", cells_csv=out / "cells.csv",
                        extrapolated_csv=out / "extrapolated_crossovers.csv", curves_csv=out / "curves.csv",
                        trust_csv=out / "trust.csv")
    df.to_csv(files.runs_csv, index=False)
    df.to_parquet(files.runs_parquet, index=False)
    tables = analyze(df, metric)
    tables.cells.to_csv(files.cells_csv, index=False)
    tables.crossovers.to_csv(files.crossovers_csv, index=False)
    tables.extrapolated.to_csv(files.extrapolated_csv, index=False)
    tables.curve_table.to_csv(files.curves_csv, index=False)
    tables.recommendations.to_csv(files.recommendations_csv, index=False)
    tables.trust.to_csv(files.trust_csv, index=False)
    plots = render_plots(df, metric, tables.curves)
    for name, (_, png) in plots.items():
        files.plots[name] = out / f"{name}.png"
        files.plots[name].write_bytes(png)
    write_report(df, files.html, metric, title or f"sgen sweep report: {' + '.join(d.name for d in dirs)}", plots,
                 source="; ".join(str(d.resolve()) for d in dirs), tables=tables)
    log.info("report for %d jobs in %s (open %s)", len(df), out, files.html)
    if wandb or (wandb is None and uses_wandb(df)):
        from sgen.report.wandb_summary import log_summary

        files.wandb_dir = log_summary(df, files, sweep_dir, metric)
    return files
