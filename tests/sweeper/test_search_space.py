"""The sweeper's search space: Hydra override syntax to Optuna distributions, and trial values back to overrides."""
from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_plugins.sgen_optuna_sweeper._space import SearchSpace, SearchSpaceError


def test_each_override_form_becomes_its_optuna_distribution():
    space = SearchSpace.parse({
        "strategy.weights.rephrase": "interval(0, 1)",
        "verifier.k": "int(interval(2, 5))",
        "student.lr": "tag(log, interval(1e-5, 1e-2))",
        "verifier": "choice(none, majority)",
        "task.seed_size": "range(50, 201, 50)",
        "seed": 3,
    }, ["budget=100q,1k", "progress=false"])
    d = space.distributions
    assert d["strategy.weights.rephrase"] == FloatDistribution(0.0, 1.0)
    assert d["verifier.k"] == IntDistribution(2, 5)
    assert d["student.lr"] == FloatDistribution(1e-5, 1e-2, log=True)
    assert d["verifier"] == CategoricalDistribution(["none", "majority"])
    # Hydra's range excludes its stop (50..200); Optuna's high is inclusive, so high is the last value, 200.
    assert d["task.seed_size"] == IntDistribution(50, 200, step=50)
    assert d["budget"] == CategoricalDistribution(["100q", "1k"])  # a command-line sweep joins the space
    assert space.fixed == ["seed=3", "progress=false"]


def test_trial_values_format_back_into_overrides_hydra_parses_to_the_same_values():
    space = SearchSpace.parse({"a": "interval(0, 1)", "+b.c": 'choice("x y", [1, 2], true)',
                               "k": "int(interval(1, 9))"}, ["fixed=7"])
    params = {"a": 1.25e-05, "+b.c": "[1,2]", "k": 4}
    assert space.distributions["+b.c"].choices == ("x y", "[1,2]", True)
    lines = space.overrides(params)
    assert lines[-1] == "fixed=7"
    parsed = {o.get_key_element(): o.value() for o in OverridesParser.create().parse_overrides(lines)}
    assert parsed == {"a": 1.25e-05, "+b.c": [1, 2], "k": 4, "fixed": 7}
    for choice, expected in [("x y", "x y"), (True, True)]:
        line = space.overrides({**params, "+b.c": choice})[1]
        assert OverridesParser.create().parse_override(line).value() == expected


def test_corner_is_a_point_inside_the_space():
    space = SearchSpace.parse({"a": "interval(0.2, 1)", "v": "choice(none, majority)", "k": "int(interval(2, 5))"},
                              [])
    assert space.corner() == {"a": 0.2, "v": "none", "k": 2}


@pytest.mark.parametrize("entry, message", [
    ({"strategy.weights.rephrase": "interval(0,"}, "not valid Hydra override syntax"),
    ({"strategy.weights.rephrase": "interval(0, one)"}, "not valid Hydra override syntax"),
    ({"strategy.weights.rephrase": "interval(1, 0)"}, "low <= high"),
    ({"strategy.weights.rephrase": "tag(grid, interval(0, 1))"}, "only valid tag is 'log'"),
    ({"verifier.k": "range(5, 2)"}, "empty range"),
])
def test_invalid_entry_names_itself_and_the_valid_forms(entry, message):
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.parse(entry, [])
    text = str(info.value)
    assert message in text and next(iter(entry)) in text
    if "syntax" in message:
        assert "interval(a,b)" in text and "choice(a,b,...)" in text


def test_a_parameter_both_fixed_and_sampled_is_refused():
    with pytest.raises(SearchSpaceError, match=r"\['verifier.k=3'\].*also samples"):
        SearchSpace.parse({"verifier.k": "int(interval(2, 5))"}, ["verifier.k=3"])
