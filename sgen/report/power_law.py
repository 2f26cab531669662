"""The saturating power law that sgen fits to learning curves, and how it is fitted.

score(x) = a - b * x ** -c,  with x = budget / largest budget measured, b >= 0 and c > 0:
- bounded above by a, the score the method approaches with unlimited queries (capped at a `ceiling`, 1 for shares
  such as accuracy), and monotone non-decreasing: more teacher data never lowers the expected score;
- the standard form of data-scaling studies (Hestness et al. 2017, "Deep learning scaling is predictable,
  empirically"; Kaplan et al. 2020; the survey of learning curves by Viering & Loog 2022): error falls as a power
  of the data towards an irreducible floor;
- measuring budgets in units of the largest one keeps the three parameters on the scale of the score (b is the
  gap to the asymptote at the largest budget), so the fit is well conditioned.
Not log-linear (score = a + b log q): it has no ceiling, so extrapolated 10x it walks past 1 for accuracy, and it
promises the same gain for every doubling of the budget, so crossings it predicts beyond the grid come from
slopes that saturation erases. Not a - b (q + q0) ** -c either: the offset q0 matters only near q = 0, far below
a grid that starts at ratio ~1, and a fourth parameter cannot be pinned down by four budgets.

For a fixed c the model is linear in (a, b), so the least-squares fit within the bounds is exact for each c of a
fine grid (`profile_fit`, vectorised over bootstrap resamples); `fit_power_law` polishes the best grid point with
scipy's curve_fit.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

log = logging.getLogger(__name__)

PARAMS = ("a", "b", "c")
C_BOUNDS = (0.01, 3.0)  # exponents of data-scaling curves lie well inside (typically 0.05 to 1)
# Log-spaced: neighbouring exponents 2.9% apart, finer than any bootstrap spread of c from a few seeds.
C_GRID = np.geomspace(*C_BOUNDS, 200)


def power_law(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """a - b * x ** -c."""
    return a - b * np.power(x, -c)


def default_ceiling(scores: np.ndarray) -> float:
    """1 for scores that are shares (accuracy, F1, and their gains lie in [-1, 1]); otherwise loose."""
    scores = np.asarray(scores, dtype=float)
    if scores.min() >= -1 and scores.max() <= 1:
        return 1.0
    return float(scores.max() + 10 * (scores.max() - scores.min()) + 1e-6)


def param_bounds(means: np.ndarray, ceiling: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of (a, b, c): a up to the ceiling; b from 0 (flat) up to what spans the scores
    from below the lowest; c within C_BOUNDS."""
    span = float(means.max() - means.min()) + 1e-6
    a_low = min(float(means.min()) - span, ceiling - 1e-6)
    b_high = max(ceiling - float(means.min()) + span, 1e-6)
    return np.array([a_low, 0.0, C_BOUNDS[0]]), np.array([ceiling, b_high, C_BOUNDS[1]])


def profile_fit(x: np.ndarray, ys: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Least-squares (a, b, c) within bounds for each row of `ys` (shape (resamples, budgets)), c on `C_GRID`.

    For each c, (a, b) is a box-constrained linear least-squares problem: its optimum is the unconstrained one
    when that lies in the box, else the best of the four edges, each a 1-D least squares clipped to the edge.
    Everything is computed from sums over budgets, so thousands of resamples fit in milliseconds."""
    ys = np.atleast_2d(np.asarray(ys, dtype=float))
    z = np.power(x[None, :], -C_GRID[:, None])  # (C, K)
    k = x.shape[0]
    sy, syy = ys.sum(1)[:, None], (ys ** 2).sum(1)[:, None]  # (R, 1)
    syz = ys @ z.T  # (R, C)
    sz, szz = z.sum(1)[None, :], (z ** 2).sum(1)[None, :]  # (1, C)

    def sse(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # sum of (y - a + b z)^2, expanded
        return syy - 2 * a * sy + 2 * b * syz + k * a ** 2 - 2 * a * b * sz + b ** 2 * szz

    b_free = -(syz - sy * sz / k) / (szz - sz ** 2 / k)
    a_free = (sy + b_free * sz) / k
    inside = (a_free >= low[0]) & (a_free <= high[0]) & (b_free >= low[1]) & (b_free <= high[1])
    candidates = [(a_free, b_free, np.where(inside, sse(a_free, b_free), np.inf))]
    for b_edge in (low[1], high[1]):
        b = np.full_like(syz, b_edge)
        a = np.clip((sy + b * sz) / k, low[0], high[0])
        candidates.append((a, b, sse(a, b)))
    for a_edge in (low[0], high[0]):
        a = np.full_like(syz, a_edge)
        b = np.clip((a * sz - syz) / szz, low[1], high[1])
        candidates.append((a, b, sse(a, b)))
    a_all, b_all, sse_all = (np.stack(parts) for parts in zip(*candidates))  # (5, R, C)
    best = np.argmin(sse_all, axis=0)
    a_best = np.take_along_axis(a_all, best[None], 0)[0]
    b_best = np.take_along_axis(b_all, best[None], 0)[0]
    j = np.argmin(np.take_along_axis(sse_all, best[None], 0)[0], axis=1)  # the best exponent per resample
    rows = np.arange(len(j))
    return np.column_stack([a_best[rows, j], b_best[rows, j], C_GRID[j]])


def fit_power_law(x: np.ndarray, means: np.ndarray, ceiling: float) -> np.ndarray:
    """(a, b, c) of the best bounded fit: the exact grid optimum, polished with curve_fit (kept only if better)."""
    low, high = param_bounds(means, ceiling)
    start = profile_fit(x, means, low, high)[0]
    sse = float(np.sum((power_law(x, *start) - means) ** 2))
    try:
        p0 = np.clip(start, low + 1e-12, high - 1e-12)
        with warnings.catch_warnings():  # the covariance is not used: a flat fit has none, and that is fine
            warnings.simplefilter("ignore", OptimizeWarning)
            polished, _ = curve_fit(power_law, x, means, p0=p0, bounds=(low, high), method="trf", maxfev=2000)
    except (RuntimeError, ValueError) as exc:  # the grid optimum stands on its own
        log.debug("curve_fit did not polish the grid fit %s: %s", start, exc)
        return start
    return polished if np.sum((power_law(x, *polished) - means) ** 2) <= sse else start


def at_bound(params: np.ndarray, low: np.ndarray, high: np.ndarray, rel: float = 1e-3) -> tuple[str, ...]:
    """Names of the parameters within `rel` of the width of their range from a bound."""
    tol = rel * (high - low)
    return tuple(name for name, p, lo, hi, t in zip(PARAMS, params, low, high, tol) if p - lo <= t or hi - p <= t)
