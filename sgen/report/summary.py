"""Average the repeats of each grid cell (task, seed size, method, ratio): mean, spread, count and a bootstrap
confidence interval over seeds."""
from __future__ import annotations

import math

import pandas as pd

from sgen.report.bootstrap import BOOTSTRAP_SEED, CONFIDENCE, N_RESAMPLES, mean_interval, rng_for

CELL = ["task", "seed_size", "method", "ratio"]
SUMMARY_COLUMNS = [*CELL, "budget", "n", "mean", "std", "sem", "ci_low", "ci_high", "seed_only"]


def finished(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The runs that finished with a value for `metric`."""
    if metric not in df.columns:
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
        raise KeyError(f"metric {metric!r} is not a column of the sweep table; numeric columns: {numeric}")
    ok = df[(df["status"] == "ok") & df[metric].notna()].copy()
    ok[metric] = ok[metric].astype(float)
    return ok


def summarize(df: pd.DataFrame, metric: str = "accuracy", confidence: float = CONFIDENCE,
              n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> pd.DataFrame:
    """One row per grid cell: mean, std and standard error of `metric` over repeats (seeds), the number of
    repeats, a percentile-bootstrap interval of the mean (`ci_low`, `ci_high`; `confidence` level, `n_resamples`
    resamples from a generator fixed by `seed` and the cell), the mean queries paid and tokens, and the seed-only
    score of the same seed size for reference. One repeat has no spread: std, sem and the interval stay NaN."""
    ok = finished(df, metric)
    if ok.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    extra = {c: (c, "mean") for c in ("budget", "queries_paid", "queries_cached", "tokens") if c in ok}
    seed_only = f"seed_only.{metric}"
    if seed_only in ok:
        extra["seed_only"] = (seed_only, "mean")
    grouped = ok.groupby(CELL, dropna=False)
    out = grouped.agg(n=(metric, "size"), mean=(metric, "mean"), std=(metric, "std"), **extra).reset_index()
    # One repeat has no spread: std and sem stay NaN (no error bar) rather than a misleading 0.
    out["sem"] = out["std"] / out["n"].map(math.sqrt)
    intervals = [mean_interval(runs[metric].to_numpy(), confidence, n_resamples, rng_for(seed, *key))
                 for key, runs in grouped]
    out["ci_low"] = [low for low, _ in intervals]
    out["ci_high"] = [high for _, high in intervals]
    first = [c for c in SUMMARY_COLUMNS if c in out]
    return out[first + [c for c in out if c not in first]].sort_values(CELL).reset_index(drop=True)
