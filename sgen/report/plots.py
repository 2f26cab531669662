"""The sweep's plots: score against budget/seed ratio (the paper's figure) and against what the teacher cost."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
# Figures are built with the object API, never pyplot: no backend or display is needed on servers and in tests,
# nothing piles up in pyplot's registry, and a notebook's inline backend is left alone.
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from sgen.report.bootstrap import CONFIDENCE
from sgen.report.curves import EXTRAPOLATION_FACTOR, CurveFits, LearningCurve, learning_curves
from sgen.report.summary import finished, summarize

FIT_LABEL = "power-law fit within the grid (solid)"
EXTRAPOLATION_LABEL = "extrapolation past the largest budget (dashed)"
COST_AXES = {"queries_paid": "teacher queries paid", "tokens": "teacher tokens (prompt + completion)",
             # Dollars compare a cheap teacher's many queries with a dear one's few at equal cost (Bansal et al.
             # 2024); plotted when some run has a price (served models, or local ones priced by the user).
             "cost_usd": "teacher cost (USD at each model's price, every query used)"}


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


def plot_score_vs_ratio(df: pd.DataFrame, metric: str = "accuracy", curves: CurveFits | None = None,
                        factor: float = EXTRAPOLATION_FACTOR, confidence: float = CONFIDENCE) -> Figure:
    """Mean score against budget/seed ratio (log axis), one colour per method and one panel per (task, seed size).
    Error bars are the bootstrap interval of the mean over seeds (none with one repeat). Methods with a learning
    curve (3 or more budgets; fitted here unless `curves` is given) get the fit drawn solid within the grid and
    dashed up to `factor` x the largest budget, with the bootstrap band of the fit shaded; the dotted line is the
    seed set alone. Methods without a curve are joined point to point."""
    cells = summarize(df, metric, confidence)
    curves = learning_curves(df, metric) if curves is None else curves
    panels = list(cells.groupby(["task", "seed_size"], dropna=False)) or [(("", 0), cells)]
    fig, axes = _panels(len(panels))
    colors = _colors(cells["method"].dropna().unique().tolist())
    drew_fit = False
    for ax, ((task, seed_size), group) in zip(axes, panels):
        ticks = sorted(group["ratio"].unique())
        for method, line in group.groupby("method"):
            line = line.sort_values("ratio")
            curve = curves.curves.get((task, seed_size, method))
            yerr = [(line["mean"] - line["ci_low"]).fillna(0.0), (line["ci_high"] - line["mean"]).fillna(0.0)]
            ax.errorbar(line["ratio"], line["mean"], yerr=yerr, label=method, marker="o", capsize=3,
                        color=colors[method], ls="none" if curve is not None else "-")
            if curve is not None and "budget" in line and line["budget"].notna().all():
                per_budget = float((line["ratio"] / line["budget"]).mean())
                ticks.append(_draw_curve(ax, curve, per_budget, factor, confidence, colors[method]))
                drew_fit = True
        if "seed_only" in group and group["seed_only"].notna().any():
            # Dotted, not dashed: dashes mark extrapolation.
            ax.axhline(group["seed_only"].mean(), ls=":", color="grey", lw=1.2, label="seed set only")
        _ratio_ticks(ax, sorted(set(ticks)))
        ax.set_xlabel("budget / seed size (teacher queries per seed example)")
        ax.set_title(f"{task}: seed size {seed_size:g}" if isinstance(seed_size, (int, float)) else str(task))
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(f"{metric} (mean, {confidence:.0%} bootstrap CI over seeds)")
    handles, labels = axes[-1].get_legend_handles_labels()
    if drew_fit:
        handles += [Line2D([], [], color="grey", ls="-"), Line2D([], [], color="grey", ls="--")]
        labels += [FIT_LABEL, EXTRAPOLATION_LABEL]
    axes[-1].legend(handles, labels, fontsize="small")
    fig.tight_layout()
    return fig


def _draw_curve(ax, curve: LearningCurve, per_budget: float, factor: float, confidence: float, color: str) -> float:
    """The fitted curve solid over the measured budgets, dashed beyond, and its band; returns the last ratio."""
    inside = np.geomspace(curve.budgets.min(), curve.q_max, 60)
    beyond = np.geomspace(curve.q_max, curve.q_max * factor, 60)
    ax.plot(inside * per_budget, curve.predict(inside), color=color, ls="-", lw=1.5, label=f"_fit {curve.method}")
    ax.plot(beyond * per_budget, curve.predict(beyond), color=color, ls="--", lw=1.5,
            label=f"_extrapolation {curve.method}")
    both = np.concatenate([inside, beyond[1:]])
    low, high = curve.band(both, confidence)
    if np.isfinite(low).all():
        ax.fill_between(both * per_budget, low, high, color=color, alpha=0.12, lw=0, label=f"_band {curve.method}")
    return float(beyond[-1] * per_budget)


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
