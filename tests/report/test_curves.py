"""Learning curves past the grid: power-law fits recover planted curves and a planted crossover beyond the
largest budget, refuse too few budgets, flag flat data, and reach the plot and the HTML report."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from sgen.report import analyze, extrapolated_crossovers, fit_learning_curve, learning_curves, plot_score_vs_ratio, \
    render_plots, report_html, summarize
from sgen.report.plots import EXTRAPOLATION_LABEL, FIT_LABEL
from sgen.report.power_law import power_law
from sgen.report.recommendation import NOT_SEPARABLE
from tests.report.synthetic import power_law_sweep, sweep_table

RATIOS = [1, 2, 4, 8, 16, 32]
# new_answer saturates early, new_question keeps climbing: it overtakes at 2.4x the largest budget (ratio ~76).
TRUTH = {"new_answer": (0.70, 0.025, 0.8), "new_question": (0.85, 0.22, 0.35)}
PLANTED_RATIO = 32 * brentq(lambda x: power_law(x, *TRUTH["new_answer"]) - power_law(x, *TRUTH["new_question"]), 1, 10)


def pair_row(df: pd.DataFrame, a: str = "new_answer", b: str = "new_question") -> dict:
    table = extrapolated_crossovers(learning_curves(df))
    return table[(table.method_a == a) & (table.method_b == b)].iloc[0].to_dict()


def test_noise_free_curves_and_their_crossing_are_recovered():
    df = power_law_sweep(TRUTH, RATIOS, n_seeds=2, noise=0.0)
    fits = learning_curves(df)
    for method, params in TRUTH.items():
        curve = fits.curves["t", 100, method]
        assert curve.params == pytest.approx(params, abs=1e-3) and curve.at_bound == ()
        assert curve.q_max == 3200 and curve.rmse < 1e-5
    row = pair_row(df)
    assert row["crosses"] and row["predicted_ratio"] == pytest.approx(PLANTED_RATIO, rel=0.01)


def test_noisy_curves_predict_the_planted_crossover_beyond_the_grid():
    row = pair_row(power_law_sweep(TRUTH, RATIOS, n_seeds=4, noise=0.005, rng_seed=3))
    assert row["crosses"] and row["leader_at_largest_budget"] == "new_answer"
    assert row["leader_beyond"] == "new_question"
    assert row["predicted_ratio"] == pytest.approx(PLANTED_RATIO, rel=0.25)
    assert row["ratio_ci_low"] < PLANTED_RATIO < row["ratio_ci_high"]
    assert 32 < row["ratio_ci_low"] and row["ratio_ci_high"] <= 320  # beyond the grid, within the 10x search
    assert row["predicted_budget"] == pytest.approx(100 * row["predicted_ratio"], abs=1)
    assert row["share_crossing"] > 0.8
    assert row["note"].startswith("new_question overtakes new_answer at about")


def test_no_crossing_predicted_names_how_far_it_looked():
    truth = {"high": (0.9, 0.2, 0.5), "low": (0.6, 0.2, 0.5)}
    row = pair_row(power_law_sweep(truth, RATIOS, n_seeds=3, noise=0.005), "high", "low")
    assert row["crosses"] is False and math.isnan(row["predicted_budget"])
    assert row["note"] == "no crossing predicted up to budget 32,000 (ratio 320)"
    assert row["leader_at_largest_budget"] == row["leader_beyond"] == "high" and row["share_crossing"] == 0.0


def test_refuses_to_fit_or_extrapolate_from_fewer_than_three_budgets():
    refusal = r"method 'rephrase': it has 2 distinct budget\(s\) \[100.0, 300.0\].*at least 3"
    with pytest.raises(ValueError, match=refusal):
        fit_learning_curve([100, 300, 100, 300], [0.5, 0.6, 0.52, 0.61], "rephrase")
    df = pd.concat([power_law_sweep(TRUTH, RATIOS, n_seeds=2, noise=0.0),
                    sweep_table({"rephrase": {1: [0.3, 0.31], 3: [0.4, 0.41]}})])
    fits = learning_curves(df)
    assert set(fits.curves) == {("t", 100, "new_answer"), ("t", 100, "new_question")}
    assert "2 distinct budget" in fits.refused["t", 100, "rephrase"]
    table = extrapolated_crossovers(fits).set_index(["method_a", "method_b"])
    assert "method 'rephrase'" in table.loc[("new_answer", "rephrase"), "note"]
    assert pd.isna(table.loc[("new_answer", "rephrase"), "crosses"])
    assert table.loc[("new_answer", "new_question"), "crosses"]


def test_falling_data_is_fitted_flat_and_flagged():
    budgets = np.repeat([100, 200, 400, 800], 3)
    scores = 0.7 - 0.02 * np.log2(budgets / 100) + np.tile([0.0, 0.004, -0.004], 4)
    curve = fit_learning_curve(budgets, scores, "new_answer")
    assert curve.params[1] == 0 and "b" in curve.at_bound
    assert curve.predict([100, 8000]) == pytest.approx([scores.mean()] * 2, abs=1e-6)
    assert curve.flags.startswith("flat or falling")
    exact = fit_learning_curve([1, 2, 4], [0.5, 0.6, 0.65], "m")  # 0.7 - 0.05 / x: three points, three parameters
    assert exact.params == pytest.approx([0.7, 0.05, 1.0], abs=1e-4)
    assert exact.flags == "no band: a budget has a single repeat" and len(exact.boot) == 0
    # A straight line in log budget has no ceiling of its own: the asymptote runs to the ceiling, and says so.
    assert fit_learning_curve([1, 2, 4], [0.5, 0.6, 0.7], "m").flags.startswith("a = 1 at its bound")


@pytest.fixture(scope="module")
def tied_sweep() -> pd.DataFrame:
    """TRUTH plus `rephrase`, a copy of new_answer's curve: the two are tied within noise everywhere."""
    truth = {**TRUTH, "rephrase": TRUTH["new_answer"]}
    return power_law_sweep(truth, RATIOS, n_seeds=4, noise=0.005, rng_seed=3)


def test_ratio_plot_draws_intervals_fits_and_dashed_extrapolation(tied_sweep):
    fits = learning_curves(tied_sweep)
    ax = plot_score_vs_ratio(tied_sweep, curves=fits).axes[0]
    cells = summarize(tied_sweep).query("method == 'new_answer'")
    [bars] = [c for c in ax.containers if c.get_label() == "new_answer"]
    segments = sorted((s[0][0], s[0][1], s[1][1]) for s in bars.lines[2][0].get_segments())
    want = zip(cells["ratio"], cells["ci_low"], cells["ci_high"])
    assert np.ravel(segments) == pytest.approx(np.ravel(list(want)))
    lines = {line.get_label(): line for line in ax.get_lines()}
    inside, beyond = lines["_fit new_answer"], lines["_extrapolation new_answer"]
    assert inside.get_linestyle() == "-" and beyond.get_linestyle() == "--"
    assert (inside.get_xdata().min(), inside.get_xdata().max()) == pytest.approx((1, 32))
    assert (beyond.get_xdata().min(), beyond.get_xdata().max()) == pytest.approx((32, 320))
    assert beyond.get_ydata() == pytest.approx(fits.curves["t", 100, "new_answer"].predict(beyond.get_xdata() * 100))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert FIT_LABEL in legend and EXTRAPOLATION_LABEL in legend and "new_answer" in legend


def test_html_has_the_interval_sections_and_not_separable_marks(tied_sweep):
    tables = analyze(tied_sweep)
    text = report_html(tied_sweep, tables=tables, plots=render_plots(tied_sweep, curves=tables.curves))
    for heading in ('<h2 id="cells">Grid cells</h2>', '<h2 id="crossovers">Crossovers within the grid</h2>',
                    '<h2 id="extrapolated">Predicted crossovers beyond the grid (extrapolated)</h2>',
                    '<h2 id="recommendation">Recommendation</h2>', '<h3 id="learning-curves">Learning curves</h3>'):
        assert heading in text
    assert EXTRAPOLATION_LABEL in text  # the ratio plot's caption names the dashed lines
    recs = tables.recommendations
    # new_answer and its copy lead at every grid point, and no grid point can tell them apart.
    assert set(recs["best"]) <= {"new_answer", "rephrase"} and len(recs) == len(RATIOS)
    assert (recs["use"] == NOT_SEPARABLE).all() and text.count('<tr class="tie">') == len(RATIOS)
    assert f'<td class="text">{NOT_SEPARABLE}</td>' in text and "excludes 0" in text
    assert "new_question overtakes new_answer at about" in text
    assert f'<td class="text">{tables.cells.iloc[0]["method"]}</td>' in text and ">ci_low<" in text
