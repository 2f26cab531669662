"""Where one strategy overtakes another along the budget/seed ratio, and which to use at each grid point."""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pandas as pd

from sgen.report.summary import summarize

# What to use when no synthetic data beats training on the seed set alone.
SEED_ONLY = "the seed set alone"
CROSSOVER_COLUMNS = ["task", "seed_size", "method_a", "method_b", "ratio_low", "ratio_high", "crossover_ratio",
                     "leader_below", "leader_above"]


def crossing_points(ratios: Sequence[float], diffs: Sequence[float]) -> list[tuple[float, float, float]]:
    """Each sign change of `diffs` (score A - score B) along ascending `ratios`, as (crossover ratio, lower grid
    ratio, upper grid ratio). Between neighbours the crossing is found by linear interpolation on log(ratio),
    the axis the grid is laid out on; when the curves tie exactly at grid points in between, the crossover is the
    first tie."""
    points = [(r, d) for r, d in zip(ratios, diffs) if r > 0 and math.isfinite(d)]
    points.sort()
    out: list[tuple[float, float, float]] = []
    last = None  # index of the last point with a nonzero difference
    for j, (r, d) in enumerate(points):
        if d == 0:
            continue
        if last is not None and (points[last][1] > 0) != (d > 0):
            r1, d1 = points[last]
            if j == last + 1:
                x = math.log(r1) + (math.log(r) - math.log(r1)) * d1 / (d1 - d)
                out.append((math.exp(x), r1, r))
            else:
                out.append((points[last + 1][0], r1, r))
        last = j
    return out


def crossovers(df: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Every crossing of every pair of methods, per task and seed size, on the ratios both methods ran.
    `leader_below` wins at smaller ratios and `leader_above` overtakes it at `crossover_ratio`."""
    cells = summarize(df, metric)
    rows = []
    for (task, seed_size), group in cells.groupby(["task", "seed_size"], dropna=False):
        means = group.pivot_table(index="ratio", columns="method", values="mean")
        for a, b in itertools.combinations(sorted(means.columns), 2):
            both = means[[a, b]].dropna()
            diffs = (both[a] - both[b]).tolist()
            for ratio, low, high in crossing_points(both.index.tolist(), diffs):
                below_a = _diff_at(both.index.tolist(), diffs, low) > 0
                rows.append({"task": task, "seed_size": seed_size, "method_a": a, "method_b": b,
                             "ratio_low": low, "ratio_high": high, "crossover_ratio": ratio,
                             "leader_below": a if below_a else b, "leader_above": b if below_a else a})
    return pd.DataFrame(rows, columns=CROSSOVER_COLUMNS)


def _diff_at(ratios: list[float], diffs: list[float], ratio: float) -> float:
    return diffs[ratios.index(ratio)]


def recommend(df: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """For each (task, seed size, ratio) of the grid: the method with the best mean score, the runner-up, the
    margin in standard errors (NaN with a single repeat), and whether the best beats the seed set alone."""
    cells = summarize(df, metric)
    rows = []
    for (task, seed_size, ratio), group in cells.groupby(["task", "seed_size", "ratio"], dropna=False):
        ranked = group.sort_values("mean", ascending=False)
        best = ranked.iloc[0]
        second = ranked.iloc[1] if len(ranked) > 1 else None
        margin = best["mean"] - second["mean"] if second is not None else math.nan
        se = math.hypot(best["sem"], second["sem"]) if second is not None else math.nan
        seed_only = best.get("seed_only", math.nan)
        beats_seed_only = bool(best["mean"] > seed_only) if pd.notna(seed_only) else None
        use = best["method"] if beats_seed_only is not False else SEED_ONLY
        rows.append({
            "task": task, "seed_size": seed_size, "ratio": ratio, "budget": best.get("budget"), "use": use,
            "best": best["method"], "best_mean": best["mean"], "n": int(best["n"]),
            "runner_up": second["method"] if second is not None else None,
            "runner_up_mean": second["mean"] if second is not None else math.nan,
            "margin": margin, "margin_in_se": margin / se if se and math.isfinite(se) and se > 0 else math.nan,
            "seed_only": seed_only, "beats_seed_only": beats_seed_only,
            "advice": _advice(ratio, seed_size, use, best, second, metric),
        })
    return pd.DataFrame(rows)


def _advice(ratio: float, seed_size: int, use: str, best: pd.Series, second: pd.Series | None, metric: str) -> str:
    text = f"at ratio {ratio:g} with seed size {int(seed_size)}, use {use}"
    if use != best["method"]:
        return text + f", no synthetic data ({metric} {best['seed_only']:.3f}; best synthetic: {best['method']} " \
                      f"{best['mean']:.3f})"
    text += f" ({metric} {best['mean']:.3f}"
    if second is not None:
        text += f" vs {second['method']} {second['mean']:.3f}"
    return text + ")"
