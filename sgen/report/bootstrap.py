"""Percentile bootstrap over seeds: reproducible resampling of the repeats of a grid cell.

Every interval of a report comes from here, so they all follow one convention: resample the repeats (seeds) of a
cell with replacement, recompute the statistic, and take the (1 - confidence)/2 and (1 + confidence)/2
percentiles. With fewer than 2 repeats there is nothing to resample, and the interval is NaN, not a zero-width
interval that would read as certainty. With the 3 to 5 seeds a study affords, a percentile interval is narrower
than the truth: for the mean of normal data a nominal 95% covers about 75% with 3 seeds, 83% with 4 and 90% with
8, so read it as "at least this uncertain". (The recommendation's "not separable" rule uses t intervals for that
reason; see sgen.report.recommendation.)
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np

BOOTSTRAP_SEED = 0  # fixed, so the same sweep always gives the same report
N_RESAMPLES = 2000
CONFIDENCE = 0.95


def rng_for(seed: int, *key: object) -> np.random.Generator:
    """A generator that depends only on `seed` and `key` (a cell, a pair of methods): adding a method or a cell to a
    sweep leaves every other interval of its report as it was."""
    text = "|".join(str(k.item() if isinstance(k, np.generic) else k) for k in key)
    return np.random.default_rng([seed, zlib.crc32(text.encode())])


def resample_means(values: Sequence[float], n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `n_resamples` resamples (with replacement, same size) of `values`."""
    values = np.asarray(values, dtype=float)
    idx = rng.integers(0, len(values), size=(n_resamples, len(values)))
    return values[idx].mean(axis=1)


def percentile_interval(samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The central `confidence` interval of the finite `samples`; NaNs when there are none."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples)]
    if not len(samples):
        return math.nan, math.nan
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES,
                  rng: np.random.Generator | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values`; NaNs with fewer than 2 values."""
    if len(values) < 2:
        return math.nan, math.nan
    rng = rng if rng is not None else np.random.default_rng(BOOTSTRAP_SEED)
    return percentile_interval(resample_means(values, n_resamples, rng), confidence)
