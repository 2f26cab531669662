"""Which method to use at each grid point, and whether its lead is more than noise."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from sgen.report.bootstrap import BOOTSTRAP_SEED, CONFIDENCE, N_RESAMPLES
from sgen.report.summary import finished, summarize

# What to use when no synthetic data beats training on the seed set alone.
SEED_ONLY = "the seed set alone"
# What `use` says when the winner's lead lies within noise (see `recommend`).
NOT_SEPARABLE = "not separable"

SEPARABILITY_RULE = (
    "A winner is named only when the {pct:g}% Student-t interval of its lead over the runner-up excludes 0; "
    "otherwise the grid point is marked \"not separable\". The same seed means the same seed set, unlabeled pool "
    "and student initialisation for every method (the task draws them from the run's seed), so when both methods "
    "ran the same seeds the interval is a paired t interval on per-seed differences (the luck of a seed set "
    "cancels); otherwise it is Welch's unpaired interval. The gain over the seed set alone gets a paired t interval "
    "on each run's gain over its own seed-only score: a best method whose gain interval contains 0 is \"not "
    "separable\" from the seed set alone, and when no method's mean beats the seed set alone the advice is to use "
    "the seed set alone. A t interval rather than the bootstrap, because with the 3 to 5 seeds a study affords a "
    "percentile bootstrap is too narrow (a nominal 95% interval of a mean covers about 75% with 3 seeds and 83% "
    "with 4) and would name winners inside the noise. With a single repeat there is no noise estimate: the best "
    "mean is named and the advice says so.")


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval of the mean of `values`; NaNs with fewer than 2."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return math.nan, math.nan
    mean, se = float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))
    half = float(stats.t.ppf((1 + confidence) / 2, len(values) - 1)) * se
    return mean - half, mean + half


def welch_interval(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Welch's t interval of mean(a) - mean(b) (unequal variances); NaNs when either has fewer than 2 values."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff, se = float(a.mean() - b.mean()), math.sqrt(va + vb)
    if se == 0:
        return diff, diff
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, dof)) * se
    return diff - half, diff + half


def lead_interval(best: pd.DataFrame, other: pd.DataFrame, metric: str,
                  confidence: float = CONFIDENCE) -> tuple[float, float, bool]:
    """Interval of mean(best) - mean(other) and whether it was paired by seed: a paired t interval when both ran
    the same distinct seeds, Welch's otherwise; NaNs when either has a single run."""
    seeds_best, seeds_other = best.get("seed"), other.get("seed")
    if (seeds_best is not None and seeds_other is not None and len(best) >= 2 and seeds_best.notna().all()
            and seeds_best.is_unique and seeds_other.is_unique and set(seeds_best) == set(seeds_other)):
        diffs = best.set_index("seed")[metric] - other.set_index("seed")[metric]
        return (*t_interval(diffs.to_numpy(), confidence), True)
    return (*welch_interval(best[metric].to_numpy(), other[metric].to_numpy(), confidence), False)


def recommend(df: pd.DataFrame, metric: str = "accuracy", confidence: float = CONFIDENCE,
              n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> pd.DataFrame:
    """For each (task, seed size, ratio) of the grid: the method with the best mean score (`best_ci_*`: its
    bootstrap interval, as in `summarize`), the runner-up, the margin (in score and in standard errors, NaN with a
    single repeat) with its t interval, and the gain over the seed set alone with its t interval. `use` is the best
    method when its lead over the runner-up and its gain over the seed set alone are both outside noise;
    `SEED_ONLY` when no method's mean beats the seed set alone; `NOT_SEPARABLE` otherwise. The rule in full, with
    why t intervals and which seeds are paired: `SEPARABILITY_RULE`."""
    ok = finished(df, metric)
    seed_only_col = f"seed_only.{metric}"
    rows = []
    for (task, seed_size, ratio), runs in ok.groupby(["task", "seed_size", "ratio"], dropna=False):
        ranked = summarize(runs, metric, confidence, n_resamples, seed).sort_values("mean", ascending=False)
        best = ranked.iloc[0]
        second = ranked.iloc[1] if len(ranked) > 1 else None
        best_runs = runs[runs["method"] == best["method"]]
        lead = (lead_interval(best_runs, runs[runs["method"] == second["method"]], metric, confidence)
                if second is not None else (math.nan, math.nan, False))
        gains = best_runs[metric] - best_runs[seed_only_col] if seed_only_col in runs else pd.Series(dtype=float)
        gain = t_interval(gains.dropna().to_numpy(), confidence)
        rows.append(_row(task, seed_size, ratio, best, second, lead, gain, metric, confidence))
    return pd.DataFrame(rows)


def _separable(low: float, high: float) -> bool | None:
    """Whether an interval of a difference excludes 0; None when there is no interval (a single repeat)."""
    return None if math.isnan(low) else bool(low > 0 or high < 0)


def _row(task, seed_size, ratio, best: pd.Series, second: pd.Series | None, lead: tuple, gain: tuple,
         metric: str, confidence: float) -> dict:
    margin = best["mean"] - second["mean"] if second is not None else math.nan
    se = math.hypot(best["sem"], second["sem"]) if second is not None else math.nan
    seed_only = best.get("seed_only", math.nan)
    beats_seed_only = bool(best["mean"] > seed_only) if pd.notna(seed_only) else None
    separable = _separable(*lead[:2]) if second is not None else None  # no runner-up: nothing to separate
    separable_from_seed_only = _separable(*gain) if beats_seed_only is not None else None
    if beats_seed_only is False:
        use = SEED_ONLY
    elif separable is False or separable_from_seed_only is False:
        use = NOT_SEPARABLE
    else:
        use = best["method"]
    row = {
        "task": task, "seed_size": seed_size, "ratio": ratio, "budget": best.get("budget"), "use": use,
        "best": best["method"], "best_mean": best["mean"], "best_ci_low": best["ci_low"],
        "best_ci_high": best["ci_high"], "n": int(best["n"]),
        "runner_up": second["method"] if second is not None else None,
        "runner_up_mean": second["mean"] if second is not None else math.nan,
        "margin": margin, "margin_in_se": margin / se if se and math.isfinite(se) and se > 0 else math.nan,
        "margin_ci_low": lead[0], "margin_ci_high": lead[1], "paired": lead[2], "separable": separable,
        "seed_only": seed_only, "beats_seed_only": beats_seed_only, "gain_ci_low": gain[0],
        "gain_ci_high": gain[1], "separable_from_seed_only": separable_from_seed_only,
    }
    row["advice"] = _advice(row, metric, confidence)
    return row


def _advice(row: dict, metric: str, confidence: float) -> str:
    text = f"at ratio {row['ratio']:g} with seed size {int(row['seed_size'])}, "
    best, runner_up = row["best"], row["runner_up"]
    gain = f"gain {confidence:.0%} interval {row['gain_ci_low']:+.3f} to {row['gain_ci_high']:+.3f}"
    lead = f"lead {confidence:.0%} interval {row['margin_ci_low']:+.3f} to {row['margin_ci_high']:+.3f}"
    if row["use"] == SEED_ONLY:
        text += f"use {SEED_ONLY}, no synthetic data ({metric} {row['seed_only']:.3f}; best synthetic: {best} " \
                f"{row['best_mean']:.3f})"
        if row["separable_from_seed_only"] is False:
            text += f"; {best} is {NOT_SEPARABLE} from it ({gain})"
    elif row["use"] == NOT_SEPARABLE:
        notes = []
        if row["separable_from_seed_only"] is False:
            notes.append(f"{best} {row['best_mean']:.3f} vs {SEED_ONLY} {row['seed_only']:.3f} ({gain})")
        if row["separable"] is False:
            notes.append(f"{best} {row['best_mean']:.3f} vs {runner_up} {row['runner_up_mean']:.3f} ({lead})")
        text += f"{NOT_SEPARABLE}: " + "; ".join(notes)
    else:
        text += f"use {best} ({metric} {row['best_mean']:.3f}"
        if runner_up is not None:
            text += f" vs {runner_up} {row['runner_up_mean']:.3f}"
        text += ")"
    if row["n"] < 2 or (runner_up is not None and row["separable"] is None):
        text += "; a single repeat, so noise is not estimated"
    return text
