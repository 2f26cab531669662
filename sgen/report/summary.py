"""Average the repeats of each grid cell (task, seed size, method, ratio): mean, spread, and count."""
from __future__ import annotations

import math

import pandas as pd

CELL = ["task", "seed_size", "method", "ratio"]


def finished(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The runs that finished with a value for `metric`."""
    if metric not in df.columns:
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
        raise KeyError(f"metric {metric!r} is not a column of the sweep table; numeric columns: {numeric}")
    ok = df[(df["status"] == "ok") & df[metric].notna()].copy()
    ok[metric] = ok[metric].astype(float)
    return ok


def summarize(df: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """One row per grid cell: mean, std and standard error of `metric` over repeats (seeds), the number of
    repeats, the mean queries paid and tokens, and the seed-only score of the same seed size for reference."""
    ok = finished(df, metric)
    if ok.empty:
        return pd.DataFrame(columns=[*CELL, "budget", "n", "mean", "std", "sem", "seed_only"])
    extra = {c: (c, "mean") for c in ("budget", "queries_paid", "queries_cached", "tokens") if c in ok}
    seed_only = f"seed_only.{metric}"
    if seed_only in ok:
        extra["seed_only"] = (seed_only, "mean")
    grouped = ok.groupby(CELL, dropna=False)
    out = grouped.agg(n=(metric, "size"), mean=(metric, "mean"), std=(metric, "std"), **extra).reset_index()
    # One repeat has no spread: std and sem stay NaN (no error bar) rather than a misleading 0.
    out["sem"] = out["std"] / out["n"].map(math.sqrt)
    return out.sort_values(CELL).reset_index(drop=True)
