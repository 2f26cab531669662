"""Where one strategy overtakes another along the budget/seed ratio: point estimates from the cell means, and
bootstrap intervals over seeds. (`recommend` lives in sgen.report.recommendation; it is re-exported here.)"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sgen.report.bootstrap import BOOTSTRAP_SEED, CONFIDENCE, N_RESAMPLES, percentile_interval, resample_means, rng_for
from sgen.report.recommendation import SEED_ONLY, recommend
from sgen.report.summary import finished, summarize

CROSSOVER_COLUMNS = ["task", "seed_size", "method_a", "method_b", "ratio_low", "ratio_high", "crossover_ratio",
                     "leader_below", "leader_above"]
NO_CROSSING = "none within the grid"
CROSSOVER_CI_COLUMNS = ["task", "seed_size", "method_a", "method_b", "crosses", "crossover_ratio", "ci_low",
                        "ci_high", "share_crossing", "ratio_low", "ratio_high", "leader_below", "leader_above",
                        "n_min", "note"]
__all__ = ["CROSSOVER_CI_COLUMNS", "CROSSOVER_COLUMNS", "NO_CROSSING", "SEED_ONLY", "crossing_points",
           "crossover_table", "crossovers", "directed_crossings", "recommend"]


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


def directed_crossings(ratios: Sequence[float], diffs: Sequence[float]) -> list[tuple[float, bool]]:
    """`crossing_points` as (crossover ratio, whether A leads below it): who overtakes whom, not only where."""
    before = dict(zip(ratios, diffs))
    return [(ratio, before[low] > 0) for ratio, low, _ in crossing_points(ratios, diffs)]


def crossover_table(df: pd.DataFrame, metric: str = "accuracy", confidence: float = CONFIDENCE,
                    n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> pd.DataFrame:
    """Every pair of methods per task and seed size (on the ratios both ran, at least 2): one row per crossing of
    the mean curves, with a percentile-bootstrap interval, or one row saying "none within the grid".

    Each resample draws every cell's seeds with replacement, independently per cell (so it ignores that the same
    seed means the same seed set in both methods, which makes the interval if anything wide), recomputes both
    mean curves and finds their crossings with `crossing_points`. For a row's crossing (A overtakes B at r):
    - `share_crossing` is the share of resamples in which A overtakes B somewhere in the grid;
    - `ci_low`/`ci_high` are percentiles of the crossing ratio among those resamples. When a resample has several
      such crossings, the one nearest r (on log ratio) counts: with several crossings in the point estimate, each
      row's interval then describes its own crossing instead of all being pulled to the first.
    For a "none within the grid" row (`crosses` false; `leader_below` = `leader_above` = the method ahead on
    average), `share_crossing` is the share of resamples with any crossing. Cells with a single repeat give no
    resampling spread: the row's interval and share are NaN (`n_min` says so)."""
    ok = finished(df, metric)
    rows: list[dict] = []
    for (task, seed_size), group in ok.groupby(["task", "seed_size"], dropna=False):
        values = {key: runs[metric].to_numpy() for key, runs in group.groupby(["method", "ratio"])}
        methods = sorted({m for m, _ in values})
        for a, b in itertools.combinations(methods, 2):
            ratios = sorted({r for m, r in values if m == a} & {r for m, r in values if m == b})
            if len([r for r in ratios if r > 0]) < 2:
                continue  # nothing to cross on fewer than 2 shared ratios
            pair = _PairSamples(ratios, [values[a, r] for r in ratios], [values[b, r] for r in ratios])
            rng = rng_for(seed, task, seed_size, a, b)
            for row in pair.rows(a, b, confidence, n_resamples, rng):
                rows.append({"task": task, "seed_size": seed_size, **row})
    return pd.DataFrame(rows, columns=CROSSOVER_CI_COLUMNS)


class _PairSamples:
    """The repeats of two methods on their shared ratios, and the crossings of their resampled mean curves."""

    def __init__(self, ratios: list[float], a: list[np.ndarray], b: list[np.ndarray]):
        self.ratios, self.a, self.b = ratios, a, b
        self.diffs = [float(x.mean() - y.mean()) for x, y in zip(a, b)]
        self.n_min = min(len(v) for v in a + b)

    def resampled(self, n_resamples: int, rng: np.random.Generator) -> list[list[tuple[float, bool]]]:
        means_a = np.column_stack([resample_means(v, n_resamples, rng) for v in self.a])
        means_b = np.column_stack([resample_means(v, n_resamples, rng) for v in self.b])
        return [directed_crossings(self.ratios, d.tolist()) for d in means_a - means_b]

    def rows(self, a: str, b: str, confidence: float, n_resamples: int, rng: np.random.Generator) -> list[dict]:
        points = directed_crossings(self.ratios, self.diffs)
        boot = self.resampled(n_resamples, rng) if self.n_min >= 2 else None
        base = {"method_a": a, "method_b": b, "n_min": self.n_min}
        if not points:
            leader = a if sum(self.diffs) > 0 else b if sum(self.diffs) < 0 else None
            share = math.nan if boot is None else float(np.mean([bool(c) for c in boot]))
            return [{**base, "crosses": False, "crossover_ratio": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                     "share_crossing": share, "ratio_low": math.nan, "ratio_high": math.nan, "leader_below": leader,
                     "leader_above": leader, "note": NO_CROSSING}]
        out = []
        for (ratio, low, high), (_, a_below) in zip(crossing_points(self.ratios, self.diffs), points):
            low_ci = high_ci = share = math.nan
            if boot is not None:
                nearest = [min((r for r, d in c if d == a_below), key=lambda r: abs(math.log(r / ratio)),
                               default=math.nan) for c in boot]
                share = float(np.mean(np.isfinite(nearest)))
                low_ci, high_ci = percentile_interval(np.array(nearest), confidence)
            leader_below, leader_above = (a, b) if a_below else (b, a)
            note = f"{leader_above} overtakes {leader_below}"
            if boot is None:
                note += "; a cell has a single repeat: no interval"
            out.append({**base, "crosses": True, "crossover_ratio": ratio, "ci_low": low_ci, "ci_high": high_ci,
                        "share_crossing": share, "ratio_low": low, "ratio_high": high, "leader_below": leader_below,
                        "leader_above": leader_above, "note": note})
        return out
