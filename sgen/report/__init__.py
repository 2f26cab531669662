"""Sweep reports: gather a sweep's jobs into one table, find crossovers, recommend a strategy per ratio, plot,
and write one self-contained HTML file (plus a W&B summary run). `python -m sgen.report <sweep dir>`."""
from sgen.report.build import ReportFiles, build_report
from sgen.report.crossover import crossing_points, crossovers, recommend
from sgen.report.gather import find_job_dirs, latest_sweep, load_sweep
from sgen.report.html import render_plots, report_html, write_report
from sgen.report.plots import plot_score_vs_cost, plot_score_vs_ratio
from sgen.report.summary import summarize

__all__ = ["ReportFiles", "build_report", "crossing_points", "crossovers", "find_job_dirs", "latest_sweep", "load_sweep",
           "plot_score_vs_cost", "plot_score_vs_ratio", "recommend", "render_plots", "report_html", "summarize",
           "write_report"]
