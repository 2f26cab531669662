"""The sweep's plots: score against budget/seed ratio (the paper's figure) and against what the teacher cost."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import pandas as pd
# Figures are built with the object API, never pyplot: no backend or display is needed on servers and in tests,
# nothing piles up in pyplot's registry, and a notebook's inline backend is left alone.
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from sgen.report.summary import finished, summarize

COST_AXES = {"queries_paid": "teacher queries paid", "tokens": "teacher tokens (prompt + completion)"}


def _colors(methods: list[str]) -> dict[str, str]:
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    return {m: cycle[i % len(cycle)] for i, m in enumerate(sorted(methods))}


def _panels(n: int, width: float = 5.0, height: float = 3.8) -> tuple[Figure, list]:
    fig = Figure(figsize=(width * n, height))
    axes = fig.subplots(1, n, squeeze=False, sharey=True)
    return fig, list(axes[0])


def _ratio_ticks(ax, ratios: list[float]) -> None:
    """Log axis labelled at the grid's own ratios (0.1, 1, 3, 10) rather than at powers of ten."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ratios))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    if len(ratios) == 1:  # one grid point: give it some room instead of a zero-width axis
        ax.set_xlim(ratios[0] / 2, ratios[0] * 2)


def plot_score_vs_ratio(df: pd.DataFrame, metric: str = "accuracy") -> Figure:
    """Mean score against budget/seed ratio (log axis), one line per method and one panel per (task, seed
    size); error bars are one standard deviation over repeats; the dashed line is the seed set alone."""
    cells = summarize(df, metric)
    panels = list(cells.groupby(["task", "seed_size"], dropna=False)) or [(("", 0), cells)]
    fig, axes = _panels(len(panels))
    colors = _colors(cells["method"].dropna().unique().tolist())
    for ax, ((task, seed_size), group) in zip(axes, panels):
        for method, line in group.groupby("method"):
            line = line.sort_values("ratio")
            ax.errorbar(line["ratio"], line["mean"], yerr=line["std"].fillna(0.0), label=method, marker="o",
                        capsize=3, color=colors[method])
        if "seed_only" in group and group["seed_only"].notna().any():
            ax.axhline(group["seed_only"].mean(), ls="--", color="grey", lw=1, label="seed set only")
        _ratio_ticks(ax, sorted(group["ratio"].unique()))
        ax.set_xlabel("budget / seed size (teacher queries per seed example)")
        ax.set_title(f"{task}: seed size {seed_size:g}" if isinstance(seed_size, (int, float)) else str(task))
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(f"{metric} (mean ± std over repeats)")
    axes[-1].legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_score_vs_cost(df: pd.DataFrame, metric: str = "accuracy", cost: str = "queries_paid") -> Figure:
    """Every finished run's score against what it cost the teacher (`queries_paid` or `tokens`), coloured by
    method, one panel per task. Runs served from a shared cache can cost 0, so the axis is symlog there."""
    if cost not in COST_AXES:
        raise ValueError(f"cost axis {cost!r} is not one of {sorted(COST_AXES)}")
    ok = finished(df, metric)
    ok = ok[ok[cost].notna()] if cost in ok else ok.iloc[0:0]
    tasks = list(ok.groupby("task", dropna=False)) or [("", ok)]
    fig, axes = _panels(len(tasks), width=6.0)
    colors = _colors(ok["method"].dropna().unique().tolist())
    markers = dict(zip(sorted(ok["seed_size"].dropna().unique()), "osD^v<>"))
    for ax, (task, group) in zip(axes, tasks):
        for (method, seed_size), runs in group.groupby(["method", "seed_size"]):
            ax.scatter(runs[cost], runs[metric], color=colors[method], marker=markers.get(seed_size, "o"),
                       label=f"{method}, seed size {seed_size:g}", alpha=0.8)
        values = group[cost].astype(float)
        if len(values) and values.min() <= 0:
            ax.set_xscale("symlog", linthresh=max(1.0, 10 ** math.floor(math.log10(max(values.max(), 1)) - 2)))
        elif len(values):
            ax.set_xscale("log")
        distinct = sorted(v for v in values.unique() if v > 0)
        spread = all(b / a >= 1.5 for a, b in zip(distinct, distinct[1:]))
        if 0 < len(distinct) <= 8 and spread:  # a grid's few budgets: label each, not just the powers of ten
            ax.xaxis.set_major_locator(FixedLocator(distinct))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(COST_AXES[cost])
        ax.set_title(str(task))
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(metric)
    axes[-1].legend(fontsize="small")
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
