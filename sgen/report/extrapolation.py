"""Where two strategies would cross beyond the largest budget measured, predicted from their learning curves
(sgen.report.curves), with a bootstrap interval from the curves' refits.

For a pair of methods, the search runs from the larger of their largest budgets, q0, up to `factor` x q0 on a
log-spaced grid; the predicted crossover is the FIRST budget past q0 where the method leading at q0 (by its fitted
curve) loses the lead: that is where the advice for bigger budgets changes (two saturating power laws can cross
twice; the second crossing lies further out, where the form matters more than the data). Resample i pairs refit i
of both curves (their seeds were resampled independently); it counts as crossing only when the same method leads
at q0 and then loses the lead, and `share_crossing` is the share of resamples that do. The interval is the
percentiles of the crossing budget among those, so it ends where the search ends: read it with the share. A pair
without a predicted crossing says "no crossing predicted up to budget X"; there `share_crossing` is the share of
resamples that cross either way.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from sgen.report.bootstrap import CONFIDENCE, percentile_interval
from sgen.report.curves import EXTRAPOLATION_FACTOR, CurveFits, LearningCurve

SEARCH_POINTS = 512  # log-spaced budgets; 10x is then searched in steps of 0.45%
EXTRAPOLATED_COLUMNS = ["task", "seed_size", "method_a", "method_b", "crosses", "predicted_budget", "budget_ci_low",
                        "budget_ci_high", "predicted_ratio", "ratio_ci_low", "ratio_ci_high", "share_crossing",
                        "leader_at_largest_budget", "leader_beyond", "searched_to_budget", "searched_to_ratio",
                        "note"]


def first_crossings(diffs: np.ndarray, log_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `diffs` (score A - score B on the budgets exp(log_q)): whether A leads at the first budget
    (ties take the next budget's sign), and the first budget where the other method takes the lead, interpolated
    on log budget (NaN when it never does)."""
    diffs = np.atleast_2d(diffs)
    sign = np.sign(diffs)
    start = np.where(sign[:, 0] != 0, sign[:, 0], sign[:, 1])
    flipped = sign == -start[:, None]
    has = flipped.any(axis=1) & (start != 0)
    j = np.argmax(flipped, axis=1)
    j = np.maximum(j, 1)
    rows = np.arange(len(diffs))
    d1, d2 = diffs[rows, j - 1], diffs[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(np.where(d1 == d2, 0.0, d1 / (d1 - d2)), 0.0, 1.0)  # rows without a crossing: any t
    where = np.exp(log_q[j - 1] + t * (log_q[j] - log_q[j - 1]))
    return start > 0, np.where(has, where, np.nan)


def predict_crossover(first: LearningCurve, second: LearningCurve, factor: float = EXTRAPOLATION_FACTOR,
                      confidence: float = CONFIDENCE) -> dict:
    """The predicted crossing of two fitted curves beyond the larger of their largest budgets (see the module
    docstring for the rule and the interval), as one row of `extrapolated_crossovers`."""
    q0 = max(first.q_max, second.q_max)
    log_q = np.linspace(math.log(q0), math.log(q0 * factor), SEARCH_POINTS)
    q = np.exp(log_q)
    a_leads, at = first_crossings(first.predict(q) - second.predict(q), log_q)
    a_leads, at = bool(a_leads[0]), float(at[0])
    leader, other = (first.method, second.method) if a_leads else (second.method, first.method)
    seed_size = first.seed_size if first.seed_size is not None else math.nan
    per_ratio = 1 / seed_size if seed_size and not pd.isna(seed_size) else math.nan
    row = {"method_a": first.method, "method_b": second.method, "crosses": math.isfinite(at),
           "predicted_budget": at, "budget_ci_low": math.nan, "budget_ci_high": math.nan,
           "share_crossing": math.nan, "leader_at_largest_budget": leader,
           "leader_beyond": other if math.isfinite(at) else leader, "searched_to_budget": q0 * factor}
    n = min(len(first.boot), len(second.boot))
    if n:
        boot_leads, boot_at = first_crossings(first.resampled(q)[:n] - second.resampled(q)[:n], log_q)
        if math.isfinite(at):
            counted = np.where(boot_leads == a_leads, boot_at, np.nan)
            row["share_crossing"] = float(np.mean(np.isfinite(counted)))
            row["budget_ci_low"], row["budget_ci_high"] = percentile_interval(counted, confidence)
        else:
            row["share_crossing"] = float(np.mean(np.isfinite(boot_at)))
    for key in ("predicted_budget", "budget_ci_low", "budget_ci_high"):  # budgets are whole queries
        row[key] = float(round(row[key])) if math.isfinite(row[key]) else math.nan
    for budget_key, ratio_key in (("predicted_budget", "predicted_ratio"), ("budget_ci_low", "ratio_ci_low"),
                                  ("budget_ci_high", "ratio_ci_high"), ("searched_to_budget", "searched_to_ratio")):
        row[ratio_key] = row[budget_key] * per_ratio
    row["note"] = _note(row, first, second)
    return row


def _note(row: dict, first: LearningCurve, second: LearningCurve) -> str:
    if row["crosses"]:
        text = (f"{row['leader_beyond']} overtakes {row['leader_at_largest_budget']} at about "
                f"{row['predicted_budget']:,.0f} queries")
    else:
        text = f"no crossing predicted up to budget {row['searched_to_budget']:,.0f}"
        if math.isfinite(row["searched_to_ratio"]):
            text += f" (ratio {row['searched_to_ratio']:.3g})"
    flags = [f"{c.method}: {c.flags}" for c in (first, second) if c.flags]
    return text + ("; fit flags: " + "; ".join(flags) if flags else "")


def extrapolated_crossovers(fits: CurveFits, factor: float = EXTRAPOLATION_FACTOR,
                            confidence: float = CONFIDENCE) -> pd.DataFrame:
    """`predict_crossover` for every pair of methods per (task, seed size); a pair with a method that has no curve
    (fewer than 3 budgets) gets a row whose note says why instead."""
    methods: dict[tuple, set[str]] = {}
    for task, seed_size, method in [*fits.curves, *fits.refused]:
        methods.setdefault((task, seed_size), set()).add(method)
    rows = []
    for (task, seed_size), names in methods.items():
        for a, b in itertools.combinations(sorted(names), 2):
            key_a, key_b = (task, seed_size, a), (task, seed_size, b)
            if key_a in fits.curves and key_b in fits.curves:
                row = predict_crossover(fits.curves[key_a], fits.curves[key_b], factor, confidence)
            else:
                reasons = [fits.refused[k] for k in (key_a, key_b) if k in fits.refused]
                row = {"method_a": a, "method_b": b, "crosses": None, "note": "; ".join(reasons)}
            rows.append({"task": task, "seed_size": seed_size, **row})
    return pd.DataFrame(rows, columns=EXTRAPOLATED_COLUMNS)
