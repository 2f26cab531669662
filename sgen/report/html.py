"""One self-contained HTML file: plots embedded as base64 PNG, tables inline, no external JS, CSS or fonts."""
from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from pathlib import Path

import pandas as pd

from sgen.report.analysis import ReportTables, analyze
from sgen.report.bootstrap import CONFIDENCE, N_RESAMPLES
from sgen.report.crossover import NO_CROSSING
from sgen.report.curves import CurveFits
from sgen.report.plots import COST_AXES, EXTRAPOLATION_LABEL, FIT_LABEL, plot_score_vs_cost, plot_score_vs_ratio
from sgen.report.recommendation import NOT_SEPARABLE, SEPARABILITY_RULE
from sgen.report.trust import DIVERSITY_AXIS, plot_score_vs_diversity

RUN_COLUMNS = ["job", "status", "method", "seed_size", "budget", "ratio", "seed", "{metric}", "seed_only.{metric}",
               "gain.{metric}", "queries_used", "queries_paid", "queries_cached", "tokens", "n_synthetic",
               "parse_failure_rate", "contamination.rate", "diversity.vendi_synthetic", "wall_seconds"]

REC_COLUMNS = ["task", "seed_size", "ratio", "budget", "use", "best", "best_mean", "best_ci_low", "best_ci_high", "n",
               "runner_up", "runner_up_mean", "margin", "margin_ci_low", "margin_ci_high", "paired", "margin_in_se",
               "seed_only", "gain_ci_low", "gain_ci_high"]
CELL_COLUMNS = ["task", "seed_size", "method", "ratio", "budget", "n", "mean", "std", "sem", "ci_low", "ci_high",
                "seed_only"]

STYLE = """
body { font-family: system-ui, -apple-system, "DejaVu Sans", sans-serif; margin: 2rem auto; max-width: 78rem;
       padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.meta { color: #666; font-size: 0.9rem; }
.counts span { display: inline-block; margin-right: 1.2rem; font-weight: 600; }
.failed-count { color: #b00020; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right; }
th { background: #f4f4f4; text-align: left; } td:first-child, th:first-child { text-align: left; }
tr.failed td { background: #fdecea; }
tr.tie td { background: #fff6db; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9rem; }
.scroll { overflow-x: auto; }
ul.advice li { margin: 0.2rem 0; }
td.text { text-align: left; }
"""


def render_plots(df: pd.DataFrame, metric: str = "accuracy",
                 curves: CurveFits | None = None) -> dict[str, tuple[str, bytes]]:
    """{file stem: (caption, PNG bytes)} for every plot of the report (`curves`: the learning curves to draw,
    fitted here when not given)."""
    ratio_caption = (f"{metric} against budget/seed ratio, one panel per seed size; error bars: the {CONFIDENCE:.0%} "
                     "bootstrap interval of the mean over seeds; lines: power-law learning curves, solid within the "
                     f"grid ({FIT_LABEL}) and dashed beyond it ({EXTRAPOLATION_LABEL}), their bootstrap band shaded; "
                     "dotted: the seed set alone")
    figures = {"score_vs_ratio": (ratio_caption, plot_score_vs_ratio(df, metric, curves))}
    for cost, label in COST_AXES.items():
        if cost == "cost_usd" and not (cost in df and (df[cost].astype(float) > 0).any()):
            continue  # local weights nobody priced: every run cost $0
        figures[f"score_vs_{cost}"] = (f"{metric} of every finished run against {label}",
                                       plot_score_vs_cost(df, metric, cost))
    if DIVERSITY_AXIS in df.columns:
        figures["score_vs_diversity"] = (f"{metric} of every finished run against the diversity (Vendi score) of its "
                                         "synthetic set", plot_score_vs_diversity(df, metric))
    out = {}
    for name, (caption, fig) in figures.items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        out[name] = (caption, buf.getvalue())
    return out


def format_value(value) -> str:
    """How a cell reads in the report: 4 decimals for scores, whole numbers without a decimal point."""
    if hasattr(value, "item"):  # numpy scalars from pandas rows
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    return str(value)


def _table(df: pd.DataFrame, row_classes: list[str] | None = None) -> str:
    if df.empty:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    classes = row_classes or [""] * len(df)
    body = []
    for cls, row in zip(classes, df.itertuples(index=False)):
        # Text reads from the left, numbers line up on the right.
        cells = "".join(f'<td class="text">{html.escape(format_value(v))}</td>' if isinstance(v, str)
                        else f"<td>{html.escape(format_value(v))}</td>" for v in row)
        body.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _advice_list(recs: pd.DataFrame) -> str:
    if recs.empty:
        return "<p><em>No finished runs to recommend from.</em></p>"
    items = "".join(f"<li>{html.escape(a[0].upper() + a[1:])}</li>" for a in recs["advice"])
    return f'<ul class="advice">{items}</ul>'


def _runs_table(df: pd.DataFrame, metric: str) -> str:
    cols = [c.format(metric=metric) for c in RUN_COLUMNS]
    shown = df[[c for c in cols if c in df.columns]]
    return _table(shown, ["failed" if s != "ok" else "" for s in df["status"]])


def _sections(tables: ReportTables, metric: str) -> list[str]:
    """Recommendation, grid cells, crossovers within the grid and predicted beyond it, each with its rule."""
    recs, cross, extra = tables.recommendations, tables.crossovers, tables.extrapolated
    pct = f"{tables.confidence:.0%}"
    tie = ["tie" if use == NOT_SEPARABLE else "" for use in recs.get("use", [])]
    return [
        '<h2 id="recommendation">Recommendation</h2>',
        _advice_list(recs),
        f"<p>Per grid point, the method with the best mean {html.escape(metric)} over repeats, or "
        f"<b>{NOT_SEPARABLE}</b> (highlighted) when its lead lies within noise. "
        + html.escape(SEPARABILITY_RULE.format(pct=tables.confidence * 100))
        + " <code>margin_ci_*</code>: the interval of the lead; <code>gain_ci_*</code>: of the gain over the seed "
        "set alone; <code>margin_in_se</code>: the lead in standard errors.</p>",
        _table(recs[[c for c in REC_COLUMNS if c in recs.columns]], tie),
        '<h2 id="cells">Grid cells</h2>',
        f"<p>Mean, spread and the {pct} percentile-bootstrap interval of the mean over seeds ({N_RESAMPLES:,} "
        "resamples, fixed random seed) per cell; empty with a single repeat rather than a zero-width interval.</p>",
        _table(tables.cells[[c for c in CELL_COLUMNS if c in tables.cells.columns]]),
        '<h2 id="crossovers">Crossovers within the grid</h2>',
        "<p>Ratios where one method overtakes another, interpolated on log(ratio) between grid points, with a "
        f"{pct} bootstrap interval: each resample draws every cell's seeds with replacement, independently per "
        "cell, and finds the crossings of the resampled mean curves. <code>share_crossing</code> is the share of "
        "resamples in which the same method overtakes; the interval is over those, and when a resample crosses "
        f"several times, the crossing nearest the estimate counts. \"{NO_CROSSING}\" rows: no crossing in the "
        "mean curves (their share is that of resamples crossing either way).</p>",
        _table(cross) if len(cross) else "<p><em>No two methods share two ratios.</em></p>",
        '<h2 id="extrapolated">Predicted crossovers beyond the grid (extrapolated)</h2>',
        "<p>Each method's mean score is fitted against its budget with a saturating power law, score = a - b "
        "(q / q<sub>max</sub>)<sup>-c</sup> (b &ge; 0, c &gt; 0: rising and bounded by the asymptote a), and "
        f"refitted on bootstrap resamples of the seeds. The search runs from the largest budget measured up to "
        f"{tables.factor:g}x it; the predicted crossover is the first budget where the method leading at the "
        f"largest budget loses the lead; its {pct} interval is over the resamples that cross the same way "
        "(<code>share_crossing</code>), so it ends where the search ends. These are extrapolations: they hold "
        "only as far as the curve's form does. Curves need at least 3 distinct budgets.</p>",
        _table(extra) if len(extra) else "<p><em>No pair of methods to extrapolate.</em></p>",
        '<h3 id="learning-curves">Learning curves</h3>',
        f"<p>Fitted parameters per method (a: the asymptote, with its {pct} interval; b: its gap at the largest "
        "budget; c: the exponent). A fit that hits a bound is kept and flagged in <code>note</code>.</p>",
        _table(tables.curve_table) if len(tables.curve_table) else "<p><em>none</em></p>",
        '<h2 id="trust">Trust: contamination and diversity</h2>',
        "<p>Per method, the mean share of synthetic rows that duplicate a test item (exact, shared word 13-gram, "
        "character 5-gram Jaccard, or embedding cosine with the student's encoder; <code>contamination.jsonl</code> "
        "in each run lists them), the rows <code>task.decontaminate=true</code> dropped, and the synthetic set's "
        "diversity (distinct word bigrams; Vendi score over the student encoder's embeddings). A gain from a "
        "contaminated set is not a gain.</p>",
        _table(tables.trust) if len(tables.trust) else "<p><em>none</em></p>",
    ]


def report_html(df: pd.DataFrame, metric: str = "accuracy", title: str = "sgen sweep report",
                plots: dict[str, tuple[str, bytes]] | None = None, source: str = "",
                tables: ReportTables | None = None) -> str:
    """The whole report as one HTML string (`tables`: the analysis of `df`, computed here when not given)."""
    tables = analyze(df, metric) if tables is None else tables
    plots = render_plots(df, metric, tables.curves) if plots is None else plots
    counts = df["status"].value_counts().to_dict()
    failed = df[df["status"] != "ok"]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">sweep {html.escape(source)} · metric <b>{html.escape(metric)}</b> · generated '
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}</p>",
        '<p class="counts">' + f"<span>{len(df)} jobs</span><span>{counts.get('ok', 0)} finished</span>"
        + f'<span class="failed-count">{len(failed)} failed or incomplete</span></p>',
        *_sections(tables, metric),
        '<h2 id="plots">Plots</h2>',
    ]
    for name, (caption, png) in plots.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure id="{name}"><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts += ["<h2>Failed and incomplete jobs</h2>",
              _table(failed[["job", "status", "overrides", "error"]]) if len(failed) else "<p>none</p>",
              "<h2>All runs</h2>", _runs_table(df, metric), "</body></html>"]
    return "\n".join(parts)


def write_report(df: pd.DataFrame, path: str | Path, metric: str = "accuracy", title: str = "sgen sweep report",
                 plots: dict[str, tuple[str, bytes]] | None = None, source: str = "",
                 tables: ReportTables | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(df, metric, title, plots, source, tables), encoding="utf-8")
    return path
