"""Bootstrap intervals per cell, crossovers with intervals, and "not separable" recommendations, on synthetic
sweep tables with planted answers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sgen.report import crossover_table, recommend, summarize
from sgen.report.bootstrap import mean_interval
from sgen.report.crossover import NO_CROSSING
from sgen.report.recommendation import NOT_SEPARABLE, SEED_ONLY, lead_interval
from tests.report.synthetic import sweep_table

RATIOS = [1, 2, 4, 8, 16, 32]


def noisy(means: dict[float, float], n_seeds: int, noise: float, rng: np.random.Generator) -> dict:
    return {r: (m + rng.normal(0, noise, n_seeds)).tolist() for r, m in means.items()}


def test_cell_interval_is_the_percentile_bootstrap_of_the_mean():
    cells = summarize(sweep_table({"a": {1: [0.4, 0.6], 10: [0.5]}})).set_index("ratio")
    # Means of resampled pairs are 0.4, 0.5, 0.6 with chances 1/4, 1/2, 1/4: the 2.5/97.5 percentiles are the ends.
    assert (cells.loc[1, "ci_low"], cells.loc[1, "ci_high"]) == pytest.approx((0.4, 0.6))
    assert cells.loc[1, "mean"] == pytest.approx(0.5) and cells.loc[1, "n"] == 2
    # One repeat: no interval at all, rather than a zero-width one.
    assert math.isnan(cells.loc[10, "ci_low"]) and math.isnan(cells.loc[10, "ci_high"])


def test_cell_interval_width_matches_theory_and_is_reproducible():
    values = np.random.default_rng(7).normal(0.6, 0.05, 400)
    low, high = mean_interval(values)
    # 95% of a mean of 400 draws with sd 0.05: +- 1.96 * 0.05 / 20 around the sample mean.
    assert high - low == pytest.approx(2 * 1.96 * values.std(ddof=1) / 20, rel=0.1)
    assert low < values.mean() < high
    alone = summarize(sweep_table({"a": {1: values[:5].tolist()}}))
    with_other = summarize(sweep_table({"a": {1: values[:5].tolist()}, "b": {1: [0.1, 0.2, 0.3]}}))
    # Fixed seed, and each cell's resamples depend only on that cell: another method changes nothing.
    pd.testing.assert_frame_equal(alone, summarize(sweep_table({"a": {1: values[:5].tolist()}})))
    assert with_other.iloc[0][["ci_low", "ci_high"]].tolist() == alone.iloc[0][["ci_low", "ci_high"]].tolist()


def planted_crossover(rng: np.random.Generator, n_seeds: int = 4) -> pd.DataFrame:
    """a falls 0.05 per doubling of the ratio from 0.7, b stays at 0.575: they cross at log2(ratio) = 2.5."""
    return sweep_table({"a": noisy({r: 0.7 - 0.05 * math.log2(r) for r in RATIOS}, n_seeds, 0.01, rng),
                        "b": noisy({r: 0.575 for r in RATIOS}, n_seeds, 0.01, rng)})


def test_true_crossover_interval_contains_the_planted_ratio():
    planted = 2 ** 2.5
    df = planted_crossover(np.random.default_rng(1))
    [row] = crossover_table(df).to_dict("records")
    assert row["crosses"] and row["note"] == "b overtakes a"
    assert (row["leader_below"], row["leader_above"], row["n_min"]) == ("a", "b", 4)
    assert row["crossover_ratio"] == pytest.approx(planted, rel=0.15)
    assert row["ci_low"] < planted < row["ci_high"]
    assert 4 < row["ci_low"] and row["ci_high"] < 8  # an interval, not the whole grid
    assert row["share_crossing"] > 0.95
    assert crossover_table(df).equals(crossover_table(df))  # fixed seed: the same report every time


def test_crossover_intervals_cover_the_planted_ratio_in_most_replications():
    planted, hits = 2 ** 2.5, 0
    for rep in range(20):
        [row] = crossover_table(planted_crossover(np.random.default_rng(100 + rep))).to_dict("records")
        assert row["crossover_ratio"] == pytest.approx(planted, rel=0.25)
        hits += row["ci_low"] < planted < row["ci_high"]
    # A percentile bootstrap over 4 seeds undercovers (about 85% for a nominal 95%), but it must not be far off.
    assert hits >= 15


def test_no_crossover_says_none_within_the_grid():
    rng = np.random.default_rng(1)
    df = sweep_table({"a": noisy({r: 0.7 for r in RATIOS}, 3, 0.01, rng),
                      "b": noisy({r: 0.6 for r in RATIOS}, 3, 0.01, rng)})
    [row] = crossover_table(df).to_dict("records")
    assert row["note"] == NO_CROSSING and row["crosses"] is False
    assert math.isnan(row["crossover_ratio"]) and math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])
    assert row["leader_below"] == row["leader_above"] == "a"
    assert row["share_crossing"] == 0.0  # a 0.1 lead against 0.01 noise never flips


def test_several_crossings_each_get_the_interval_of_the_nearest():
    rng = np.random.default_rng(2)
    # a - b: + - - + + -  -> a loses the lead in (1, 2), regains it in (4, 8) and loses it again in (16, 32).
    signs = dict(zip(RATIOS, [1, -1, -1, 1, 1, -1]))
    df = sweep_table({"a": noisy({r: 0.6 + 0.05 * s for r, s in signs.items()}, 4, 0.005, rng),
                      "b": noisy({r: 0.6 for r in RATIOS}, 4, 0.005, rng)})
    rows = crossover_table(df).sort_values("crossover_ratio").to_dict("records")
    assert [(r["ratio_low"], r["ratio_high"], r["leader_above"]) for r in rows] == [(1, 2, "b"), (4, 8, "a"),
                                                                                    (16, 32, "b")]
    for row in rows:
        # The third crossing has the same direction as the first; the nearest rule keeps its interval its own.
        assert row["ratio_low"] <= row["ci_low"] <= row["crossover_ratio"] <= row["ci_high"] <= row["ratio_high"]
        assert row["share_crossing"] > 0.95


def test_single_repeat_crossover_has_no_interval():
    [row] = crossover_table(sweep_table({"a": {1: [0.6], 10: [0.4]}, "b": {1: [0.5], 10: [0.5]}})).to_dict("records")
    assert row["crossover_ratio"] == pytest.approx(math.sqrt(10)) and row["n_min"] == 1
    assert math.isnan(row["ci_low"]) and math.isnan(row["share_crossing"]) and "single repeat" in row["note"]


def test_tie_within_noise_is_not_separable():
    df = sweep_table({"a": {4: [0.62, 0.58, 0.61]}, "b": {4: [0.60, 0.61, 0.59]}}, seed_only=0.3)
    [rec] = recommend(df).to_dict("records")
    assert rec["best"] == "a" and rec["use"] == NOT_SEPARABLE and rec["separable"] is False
    assert rec["paired"] and rec["margin_ci_low"] < 0 < rec["margin_ci_high"]
    assert rec["separable_from_seed_only"] is True
    assert rec["advice"].startswith("at ratio 4 with seed size 100, not separable: a 0.603 vs b 0.600")


def test_same_seeds_are_paired_so_shared_seed_luck_cancels():
    luck = np.array([-0.05, 0.0, 0.05])  # the seed set's own effect, the same for every method
    scores = {"a": {4: (0.61 + luck).tolist()}, "b": {4: (0.60 + luck).tolist()}}
    [paired] = recommend(sweep_table(scores, seed_only=0.3)).to_dict("records")
    assert paired["paired"] and paired["separable"] and paired["use"] == "a"
    assert paired["margin_ci_low"] == pytest.approx(0.01) and paired["margin_ci_high"] == pytest.approx(0.01)
    # The same scores from different seed sets cannot be paired: a 0.01 lead drowns in 0.05 of seed-set luck.
    [unpaired] = recommend(sweep_table(scores, seed_only=0.3, seeds={"b": [3, 4, 5]})).to_dict("records")
    assert not unpaired["paired"] and unpaired["separable"] is False and unpaired["use"] == NOT_SEPARABLE


def test_best_not_separable_from_the_seed_set_alone():
    df = sweep_table({"a": {4: [0.52, 0.49, 0.55]}, "b": {4: [0.30, 0.31, 0.29]}}, seed_only=0.5)
    [rec] = recommend(df).to_dict("records")
    assert rec["beats_seed_only"] and rec["separable"] and rec["separable_from_seed_only"] is False
    assert rec["use"] == NOT_SEPARABLE and rec["gain_ci_low"] < 0 < rec["gain_ci_high"]
    assert f"a 0.520 vs {SEED_ONLY} 0.500" in rec["advice"]
    # Clearly below the seed set alone: use it, and the gap is real.
    [below] = recommend(sweep_table({"a": {4: [0.40, 0.41, 0.42]}}, seed_only=0.5)).to_dict("records")
    assert below["use"] == SEED_ONLY and below["separable_from_seed_only"] is True
    assert below["gain_ci_high"] < 0


def test_single_repeat_names_the_best_and_says_noise_is_unknown():
    [rec] = recommend(sweep_table({"a": {4: [0.62]}, "b": {4: [0.60]}}, seed_only=0.3)).to_dict("records")
    assert rec["use"] == "a" and rec["separable"] is None and math.isnan(rec["margin_ci_low"])
    assert rec["advice"].endswith("a single repeat, so noise is not estimated")


def test_separability_rule_keeps_false_winners_near_five_percent_with_three_seeds():
    rng = np.random.default_rng(5)
    t_hits = boot_hits = 0
    for _ in range(400):
        # Two methods with the same true score, 3 shared seeds: any "winner" is noise.
        luck = rng.normal(0, 0.03, 3)
        a = pd.DataFrame({"seed": [0, 1, 2], "accuracy": 0.6 + luck + rng.normal(0, 0.01, 3)})
        b = pd.DataFrame({"seed": [0, 1, 2], "accuracy": 0.6 + luck + rng.normal(0, 0.01, 3)})
        low, high, paired = lead_interval(a, b, "accuracy")
        assert paired
        t_hits += not low < 0 < high
        low, high = mean_interval((a["accuracy"] - b["accuracy"]).to_numpy(), n_resamples=500, rng=rng)
        boot_hits += not low < 0 < high
    # The t rule errs about as often as it promises (5%); a percentile bootstrap over 3 seeds errs about 25% of
    # the time.
    assert t_hits / 400 < 0.08 and boot_hits / 400 > 0.15
