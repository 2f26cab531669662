"""Learning curves: score against teacher queries per (task, seed size, method), fitted with the saturating power
law of sgen.report.power_law (see there why that form) and bootstrapped over seeds, so a report can draw each
curve past the grid with its uncertainty band, and sgen.report.extrapolation can say where two strategies would
cross beyond the largest budget measured.

Fits hitting a bound (b = 0 for flat or falling data, a at the ceiling, c at its limits) are returned and flagged,
not refused; fewer than 3 distinct budgets are refused with a ValueError: three parameters need three budgets.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sgen.report.bootstrap import BOOTSTRAP_SEED, CONFIDENCE, percentile_interval, resample_means, rng_for
from sgen.report.power_law import PARAMS, at_bound, default_ceiling, fit_power_law, param_bounds, power_law, \
    profile_fit
from sgen.report.summary import finished

log = logging.getLogger(__name__)

MIN_BUDGETS = 3
CURVE_RESAMPLES = 1000  # each resample is a refit over the whole exponent grid
EXTRAPOLATION_FACTOR = 10.0  # how far past the largest budget curves are drawn and crossings are searched


@dataclass
class LearningCurve:
    """One method's fitted curve: the cell means it was fitted to, the parameters (a, b, c) with budgets in units
    of the largest one, the bounds they hit, and the parameters refitted on each bootstrap resample of the seeds
    (`boot`, shape (resamples, 3); empty when a budget has a single repeat)."""
    method: str
    budgets: np.ndarray
    means: np.ndarray
    n: np.ndarray
    params: np.ndarray
    ceiling: float
    at_bound: tuple[str, ...] = ()
    boot: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))
    task: str | None = None
    seed_size: float | None = None

    @property
    def q_max(self) -> float:
        return float(self.budgets.max())

    @property
    def rmse(self) -> float:
        return float(np.sqrt(np.mean((self.predict(self.budgets) - self.means) ** 2)))

    def predict(self, budgets: Sequence[float] | np.ndarray) -> np.ndarray:
        return power_law(np.asarray(budgets, dtype=float) / self.q_max, *self.params)

    def resampled(self, budgets: Sequence[float] | np.ndarray) -> np.ndarray:
        """Predictions of every bootstrap refit, shape (resamples, len(budgets))."""
        x = np.asarray(budgets, dtype=float)[None, :] / self.q_max
        a, b, c = (self.boot[:, [i]] for i in range(3))
        return a - b * np.power(x, -c)

    def band(self, budgets: Sequence[float] | np.ndarray,
             confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise percentile interval of the bootstrap refits; NaN without resamples."""
        budgets = np.asarray(budgets, dtype=float)
        if not len(self.boot):
            return np.full(len(budgets), np.nan), np.full(len(budgets), np.nan)
        tail = (1 - confidence) / 2 * 100
        low, high = np.percentile(self.resampled(budgets), [tail, 100 - tail], axis=0)
        return low, high

    @property
    def flags(self) -> str:
        """What a reader should know before trusting the curve ("" when nothing)."""
        notes = []
        flat = "b" in self.at_bound and self.params[1] < 1e-3
        if flat:  # the exponent of a flat curve means nothing, so its bound is no news
            notes.append("flat or falling: no gain from more queries (b = 0)")
        notes += [f"{name} = {value:.3g} at its bound" for name, value in zip(PARAMS, self.params)
                  if name in self.at_bound and not (flat and name in "bc")]
        if not len(self.boot):
            notes.append("no band: a budget has a single repeat")
        return "; ".join(notes)


def fit_learning_curve(budgets: Sequence[float], scores: Sequence[float], method: str, *,
                       n_resamples: int = CURVE_RESAMPLES, seed: int = BOOTSTRAP_SEED, ceiling: float | None = None,
                       task: str | None = None, seed_size: float | None = None) -> LearningCurve:
    """Fit the power law to the mean score per distinct budget of one method's runs (`budgets` and `scores` hold
    one entry per run), then refit it on `n_resamples` bootstrap resamples, each drawing every budget's runs with
    replacement, independently per budget (none when a budget has a single run). Raises ValueError, naming the
    method and its budgets, with fewer than 3 distinct budgets."""
    runs = pd.DataFrame({"budget": np.asarray(budgets, dtype=float), "score": np.asarray(scores, dtype=float)})
    runs = runs[np.isfinite(runs["budget"]) & np.isfinite(runs["score"]) & (runs["budget"] > 0)]
    distinct = sorted(runs["budget"].unique())
    if len(distinct) < MIN_BUDGETS:
        raise ValueError(f"cannot fit or extrapolate a learning curve for method {method!r}: it has "
                         f"{len(distinct)} distinct budget(s) {[float(b) for b in distinct]}, and the saturating "
                         f"power law (3 parameters) needs at least {MIN_BUDGETS}")
    groups = [g["score"].to_numpy() for _, g in runs.groupby("budget")]
    budget_arr = np.array(distinct, dtype=float)
    means = np.array([g.mean() for g in groups])
    ceiling = default_ceiling(runs["score"].to_numpy()) if ceiling is None else float(ceiling)
    x = budget_arr / budget_arr.max()
    params = fit_power_law(x, means, ceiling)
    low, high = param_bounds(means, ceiling)
    curve = LearningCurve(method=method, budgets=budget_arr, means=means, n=np.array([len(g) for g in groups]),
                          params=params, ceiling=ceiling, at_bound=at_bound(params, low, high), task=task,
                          seed_size=seed_size)
    if n_resamples and min(len(g) for g in groups) >= 2:
        rng = rng_for(seed, task, seed_size, method, "curve")
        resampled = np.column_stack([resample_means(g, n_resamples, rng) for g in groups])
        # The same bounds as the point fit, so every resample is fitted within one model.
        curve.boot = profile_fit(x, resampled, low, high)
    return curve


@dataclass
class CurveFits:
    """Every curve of a sweep keyed by (task, seed size, method), and why the others were not fitted."""
    curves: dict[tuple, LearningCurve] = field(default_factory=dict)
    refused: dict[tuple, str] = field(default_factory=dict)


def learning_curves(df: pd.DataFrame, metric: str = "accuracy", n_resamples: int = CURVE_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED, ceiling: float | None = None) -> CurveFits:
    """`fit_learning_curve` for each (task, seed size, method) of a sweep table; methods with fewer than 3
    budgets are not fitted but listed in `refused` with the reason."""
    fits = CurveFits()
    for (task, seed_size, method), runs in finished(df, metric).groupby(["task", "seed_size", "method"],
                                                                         dropna=False):
        key = (task, seed_size, method)
        try:
            fits.curves[key] = fit_learning_curve(runs["budget"], runs[metric], method, n_resamples=n_resamples,
                                                  seed=seed, ceiling=ceiling, task=task, seed_size=seed_size)
        except ValueError as exc:
            log.info("%s (task %s, seed size %s)", exc, task, seed_size)
            fits.refused[key] = str(exc)
    return fits


CURVE_COLUMNS = ["task", "seed_size", "method", "n_budgets", "largest_budget", "a", "a_ci_low", "a_ci_high", "b", "c",
                 "rmse", "note"]


def curve_table(fits: CurveFits, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per (task, seed size, method): the fitted parameters, the bootstrap interval of the asymptote a,
    the RMSE on the cell means, and the fit's flags, or why it was not fitted."""
    rows = []
    for (task, seed_size, method), curve in fits.curves.items():
        a_low, a_high = percentile_interval(curve.boot[:, 0], confidence) if len(curve.boot) else (math.nan,) * 2
        rows.append({"task": task, "seed_size": seed_size, "method": method, "n_budgets": len(curve.budgets),
                     "largest_budget": curve.q_max, "a": curve.params[0], "a_ci_low": a_low, "a_ci_high": a_high,
                     "b": curve.params[1], "c": curve.params[2], "rmse": curve.rmse, "note": curve.flags})
    for (task, seed_size, method), reason in fits.refused.items():
        rows.append({"task": task, "seed_size": seed_size, "method": method, "note": reason})
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)
