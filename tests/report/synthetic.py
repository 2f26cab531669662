"""Synthetic sweep tables with known answers (no jobs run): planted scores per method, ratio and seed."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sgen.report.power_law import power_law


def sweep_table(scores: dict[str, dict[float, Sequence[float]]], seed_size: int = 100,
                seed_only: float | Sequence[float] = 0.5, seeds: dict[str, Sequence[int]] | None = None,
                task: str = "t") -> pd.DataFrame:
    """{method: {ratio: [score per seed]}} -> one finished run per score. `seed_only` is one score for every run or
    one per seed; `seeds` overrides a method's seed numbers (default 0, 1, 2, ...)."""
    rows = []
    for method, by_ratio in scores.items():
        for ratio, values in by_ratio.items():
            numbers = (seeds or {}).get(method, range(len(values)))
            for seed, value in zip(numbers, values):
                base = seed_only if np.isscalar(seed_only) else seed_only[seed]
                budget = ratio * seed_size
                rows.append({"job": f"{method}/{ratio}/{seed}", "status": "ok", "task": task, "method": method,
                             "seed_size": seed_size, "ratio": ratio, "budget": budget, "seed": seed,
                             "accuracy": value, "seed_only.accuracy": base, "queries_paid": budget,
                             "tokens": 40 * budget})
    return pd.DataFrame(rows)


def power_law_sweep(truth: dict[str, tuple[float, float, float]], ratios: Sequence[float], n_seeds: int,
                    noise: float, seed_size: int = 100, rng_seed: int = 0, seed_only: float = 0.3) -> pd.DataFrame:
    """Scores a - b * (budget / largest budget) ** -c plus Gaussian noise, per method, ratio and seed."""
    rng = np.random.default_rng(rng_seed)
    top = max(ratios)
    scores = {m: {r: (power_law(r / top, *p) + rng.normal(0, noise, n_seeds)).tolist() for r in ratios}
              for m, p in truth.items()}
    return sweep_table(scores, seed_size=seed_size, seed_only=seed_only)
