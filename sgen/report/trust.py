"""Whether a sweep's synthetic data can be trusted, per method: how much of it duplicates the test set
(sgen.audit's contamination audit), how varied it is, and how the student's score moves with that variety."""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from sgen.report.summary import finished

# metrics.json fields (flattened) -> the table's column names
TRUST_FIELDS = {"contamination.rate": "contaminated_share", "contamination.flagged": "contaminated_rows",
                "n_decontaminated": "dropped", "diversity.distinct_2": "distinct_2",
                "diversity.vendi_synthetic": "vendi_synthetic",
                "diversity.vendi_seed_plus_synthetic": "vendi_seed_plus_synthetic"}
DIVERSITY_AXIS = "diversity.vendi_synthetic"


def trust_table(df: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """One row per task and method: runs, the mean contaminated share and rows, the rows dropped, the mean
    diversity; the runs before the audit existed have no such columns and leave the cells empty."""
    ok = finished(df, metric)
    present = {k: v for k, v in TRUST_FIELDS.items() if k in ok.columns}
    if ok.empty or not present:
        return pd.DataFrame(columns=["task", "method", "n", *TRUST_FIELDS.values()])
    grouped = ok.groupby(["task", "method"], dropna=False)
    out = grouped.agg(n=(metric, "size"), **{name: (field, "mean") for field, name in present.items()})
    out["max_contaminated_share"] = grouped["contamination.rate"].max() if "contamination.rate" in ok else None
    return out.reset_index()


def plot_score_vs_diversity(df: pd.DataFrame, metric: str = "accuracy") -> Figure:
    """Each finished run's score against the Vendi score of its synthetic set, coloured by method."""
    ok = finished(df, metric)
    ok = ok[ok[DIVERSITY_AXIS].notna()] if DIVERSITY_AXIS in ok else ok.iloc[0:0]
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.subplots()
    for method, runs in ok.groupby("method"):
        ax.scatter(runs[DIVERSITY_AXIS].astype(float), runs[metric], label=str(method), alpha=0.8)
    ax.set_xlabel("Vendi score of the synthetic set (student encoder)")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    if len(ok):
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
