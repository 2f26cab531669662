"""Every table of a report computed once from the sweep table: cells, crossovers, learning curves, predicted
crossovers and recommendations (the bootstraps behind them are the slow part, so the HTML, the CSV files and the
plots share one computation)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sgen.report.bootstrap import BOOTSTRAP_SEED, CONFIDENCE
from sgen.report.crossover import crossover_table
from sgen.report.curves import EXTRAPOLATION_FACTOR, CurveFits, curve_table, learning_curves
from sgen.report.extrapolation import extrapolated_crossovers
from sgen.report.recommendation import recommend
from sgen.report.summary import summarize
from sgen.report.trust import trust_table


@dataclass
class ReportTables:
    """The analysis of one sweep for one metric."""
    cells: pd.DataFrame
    crossovers: pd.DataFrame
    curves: CurveFits
    curve_table: pd.DataFrame
    extrapolated: pd.DataFrame
    recommendations: pd.DataFrame
    confidence: float = CONFIDENCE
    factor: float = EXTRAPOLATION_FACTOR
    trust: pd.DataFrame = field(default_factory=pd.DataFrame)  # contamination and diversity per method


def analyze(df: pd.DataFrame, metric: str = "accuracy", confidence: float = CONFIDENCE,
            factor: float = EXTRAPOLATION_FACTOR, seed: int = BOOTSTRAP_SEED) -> ReportTables:
    """Cells with bootstrap intervals, crossovers within the grid with intervals, power-law learning curves,
    crossovers predicted up to `factor` x the largest budget, and the recommendation per grid point."""
    fits = learning_curves(df, metric, seed=seed)
    return ReportTables(
        cells=summarize(df, metric, confidence, seed=seed),
        crossovers=crossover_table(df, metric, confidence, seed=seed),
        curves=fits, curve_table=curve_table(fits, confidence),
        extrapolated=extrapolated_crossovers(fits, factor, confidence),
        recommendations=recommend(df, metric, confidence, seed=seed),
        confidence=confidence, factor=factor, trust=trust_table(df, metric))
