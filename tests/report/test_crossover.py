"""Crossover, summary and recommendation math on synthetic sweep tables with known answers."""
from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgen.report import crossing_points, crossovers, recommend, summarize
from sgen.report.crossover import SEED_ONLY


def table(scores: dict[str, dict[float, list[float]]], seed_size: int = 100, seed_only: float = 0.2) -> pd.DataFrame:
    """A sweep table: {method: {ratio: [score per repeat]}} -> one finished run per repeat."""
    rows = []
    for method, by_ratio in scores.items():
        for ratio, values in by_ratio.items():
            for seed, value in enumerate(values):
                rows.append({"job": f"{method}/{ratio}/{seed}", "status": "ok", "task": "t", "method": method,
                             "seed_size": seed_size, "ratio": ratio, "budget": ratio * seed_size, "seed": seed,
                             "accuracy": value, "seed_only.accuracy": seed_only})
    return pd.DataFrame(rows)


def test_crossing_is_interpolated_on_log_ratio():
    # A - B = +0.3 at ratio 1 and -0.1 at ratio 10: zero at 3/4 of the way in log space, 10**0.75.
    [(ratio, low, high)] = crossing_points([0.1, 1, 10], [0.5, 0.3, -0.1])
    assert ratio == pytest.approx(10 ** 0.75) and (low, high) == (1, 10)
    # Symmetric differences cross at the geometric mean of the neighbours.
    assert crossing_points([1, 100], [0.2, -0.2])[0][0] == pytest.approx(10.0)


def test_exact_tie_at_a_grid_point_is_the_crossover():
    assert crossing_points([1, 3, 10], [0.1, 0.0, -0.1]) == [(3, 1, 10)]
    # Touching zero without changing sides is no crossover.
    assert crossing_points([1, 3, 10], [0.1, 0.0, 0.1]) == []


def test_unsorted_input_nan_and_several_crossings():
    points = crossing_points([10, 1, 100, 1000, 3], [-0.1, 0.1, 0.2, -0.2, float("nan")])
    # Sorted: +0.1 @1, -0.1 @10, +0.2 @100, -0.2 @1000 (the NaN @3 is dropped): three crossings.
    expected = [math.sqrt(10), 10 ** (1 + 1 / 3), math.sqrt(1e5)]
    assert [p[0] for p in points] == pytest.approx(expected)
    assert crossing_points([1, 10], [0.1, 0.2]) == []


@settings(deadline=None)  # pure arithmetic; a loaded CI machine must not fail it on time
@given(st.floats(-3, 3), st.floats(0.05, 2), st.floats(0.01, 1))
def test_recovers_the_crossing_of_lines_in_log_ratio(log_cross, half_width, slope):
    # Differences linear in log(ratio) with a root at log_cross: interpolation must find it exactly.
    lo, hi = log_cross - half_width, log_cross + half_width * 1.7
    diffs = [slope * (log_cross - x) for x in (lo, hi)]
    [(ratio, _, _)] = crossing_points([math.exp(lo), math.exp(hi)], diffs)
    assert math.log(ratio) == pytest.approx(log_cross, abs=1e-9)


def test_crossovers_name_who_leads_on_each_side():
    df = table({"new_answer": {1: [0.60, 0.62], 10: [0.50, 0.52], 100: [0.40, 0.42]},
                "rephrase": {1: [0.50, 0.52], 10: [0.50, 0.52], 100: [0.60, 0.62]},
                "new_question": {1: [0.30], 10: [0.35], 100: [0.38]}})
    cross = crossovers(df)
    # new_answer vs rephrase: +0.1 at 1, tie at 10, -0.2 at 100 -> the tie at 10 is the crossover.
    row = cross[(cross.method_a == "new_answer") & (cross.method_b == "rephrase")].iloc[0]
    assert row.crossover_ratio == pytest.approx(10) and row.leader_below == "new_answer"
    assert row.leader_above == "rephrase"
    assert len(cross) == 1  # new_question is below both everywhere


def test_crossovers_skip_ratios_one_method_lacks_and_split_by_seed_size():
    small = table({"a": {1: [0.6], 10: [0.4]}, "b": {1: [0.5], 10: [0.5], 100: [0.9]}}, seed_size=100)
    large = table({"a": {0.1: [0.6], 1: [0.6]}, "b": {0.1: [0.5], 1: [0.5]}}, seed_size=1000)
    cross = crossovers(pd.concat([small, large]))
    assert cross["seed_size"].tolist() == [100]
    assert cross.iloc[0].crossover_ratio == pytest.approx(math.sqrt(10))


def test_summarize_averages_repeats_and_ignores_failed_runs():
    df = table({"a": {1: [0.5, 0.7, 0.6]}})
    failed = {"job": "x", "status": "failed", "task": "t", "method": "a", "seed_size": 100, "ratio": 1,
              "accuracy": None, "error": "boom"}
    cells = summarize(pd.concat([df, pd.DataFrame([failed])]))
    [cell] = cells.to_dict("records")
    assert cell["n"] == 3 and cell["mean"] == pytest.approx(0.6) and cell["std"] == pytest.approx(0.1)
    assert cell["sem"] == pytest.approx(0.1 / math.sqrt(3))
    assert math.isnan(summarize(table({"a": {1: [0.5]}})).iloc[0]["std"])  # one repeat: no spread


def test_summarize_names_a_missing_metric():
    with pytest.raises(KeyError, match="macro_f1.*numeric columns"):
        summarize(table({"a": {1: [0.5]}}), "macro_f1")


def test_recommendation_per_grid_point_with_margin_in_standard_errors():
    df = table({"a": {1: [0.60, 0.62], 10: [0.40, 0.42]}, "b": {1: [0.50, 0.52], 10: [0.70, 0.72]}})
    recs = recommend(df).set_index("ratio")
    assert recs.loc[1, "use"] == "a" and recs.loc[10, "use"] == "b"
    assert recs.loc[1, "margin"] == pytest.approx(0.1)
    # Both cells have std sqrt(2)*0.01 over 2 repeats -> sem 0.01 each, combined sqrt(2)*0.01.
    assert recs.loc[1, "margin_in_se"] == pytest.approx(0.1 / (math.sqrt(2) * 0.01))
    assert recs.loc[10, "advice"] == "at ratio 10 with seed size 100, use b (accuracy 0.710 vs a 0.410)"


def test_recommends_the_seed_set_alone_when_no_synthetic_data_helps():
    recs = recommend(table({"a": {1: [0.3]}, "b": {1: [0.35]}}, seed_only=0.5))
    assert recs.iloc[0]["use"] == SEED_ONLY and recs.iloc[0]["best"] == "b"
    assert recs.iloc[0]["beats_seed_only"] == False  # noqa: E712 (numpy bool)
    assert "seed set alone" in recs.iloc[0]["advice"] and "0.500" in recs.iloc[0]["advice"]
