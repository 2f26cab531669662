"""Sweep reports: gather a sweep's jobs into one table, summarise each grid cell with a bootstrap interval, find
crossovers within the grid and predict them beyond it from learning curves, recommend a strategy per ratio (or say
the leaders are not separable), plot, and write one self-contained HTML file (plus a W&B summary run).
`python -m sgen.report <sweep dir>`."""
from sgen.report.analysis import ReportTables, analyze
from sgen.report.build import ReportFiles, build_report
from sgen.report.crossover import crossing_points, crossover_table, crossovers
from sgen.report.curves import LearningCurve, fit_learning_curve, learning_curves
from sgen.report.extrapolation import extrapolated_crossovers, predict_crossover
from sgen.report.gather import find_job_dirs, latest_sweep, load_sweep, load_sweeps
from sgen.report.html import render_plots, report_html, write_report
from sgen.report.plots import plot_score_vs_cost, plot_score_vs_ratio
from sgen.report.recommendation import recommend
from sgen.report.summary import summarize

__all__ = ["LearningCurve", "ReportFiles", "ReportTables", "analyze", "build_report", "crossing_points",
           "crossover_table", "crossovers", "extrapolated_crossovers", "find_job_dirs", "fit_learning_curve",
           "latest_sweep", "learning_curves", "load_sweep", "load_sweeps", "plot_score_vs_cost",
           "plot_score_vs_ratio", "predict_crossover", "recommend", "render_plots", "report_html", "summarize",
           "write_report"]
