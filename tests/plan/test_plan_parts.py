"""The plan's parts on their own: time models, call features, the read-only cache view, placeholders."""
from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from sgen.budget.cache import QueryCache
from sgen.plan.cache_view import PlannedCache, StoredAnswers
from sgen.plan.rates import fit
from sgen.plan.simulated import placeholder_for
from sgen.records import Completion
from sgen.tasks.gsm8k_prompts import MathPrompts
from sgen.tasks.prompts import ClassificationPrompts
from sgen.throughput import call_features, training_work


def test_nnls_recovers_non_negative_weights_and_one_size_is_a_ratio():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(40), rng.uniform(1, 100, (40, 4))])
    true = np.array([0.5, 0.0, 0.02, 0.3, 0.01])
    model = fit(x.tolist(), (x @ true).tolist())
    assert model.weights == pytest.approx(true.tolist(), abs=1e-6) and model.points == 40
    ratio = fit([[1.0, 50.0], [1.0, 50.0]], [2.0, 3.0])
    assert ratio([1.0, 100.0]) == pytest.approx(5.0)  # 2.5 s for 50 -> 5 s for 100, no fixed part to guess
    assert fit([], []) is None


def test_call_features_follow_the_batches_the_backend_makes():
    # Sorted by prompt length, two rows a batch: [10, 20] then [30]; a batch decodes until its longest completion.
    assert call_features([30, 10, 20], [3, 5, 1], batch_size=2) == [1.0, 2 * 20 + 30, 9.0, 2 * 5 + 3, 5 + 3]
    assert call_features([30, 10, 20], [3, 5, 1], batch_size=None) == [1.0, 3 * 30, 9.0, 3 * 5, 5.0]


def test_training_examples_follow_epochs_and_min_steps():
    minilm = OmegaConf.create({"batch_size": 32, "epochs": 3, "min_steps": 60})
    assert training_work(minilm, 75)[1] == 20 * 75  # 3 batches an epoch: 20 epochs reach 60 steps
    assert training_work(minilm, 3200)[1] == 3 * 3200
    sft = OmegaConf.create({"batch_size": 8, "epochs": 3, "min_steps": 20, "grad_accum": 2})
    assert training_work(sft, 32)[1] == 10 * 32  # 4 micro-batches = 2 steps an epoch: 10 epochs
    # Optimizer steps too: a small set still takes min_steps steps, a large one 3 epochs of them.
    assert training_work(minilm, 75) == (60, 20 * 75) and training_work(minilm, 3200) == (300, 3 * 3200)
    assert training_work(minilm, 12) == (60, 60 * 12) and training_work(sft, 32) == (20, 10 * 32)


def test_training_time_model_separates_the_cost_of_a_step_from_that_of_an_example():
    from sgen.plan.rates import fit

    # seconds = 0.3 per step + 0.01 per example: small sets are step-bound, large ones example-bound.
    work = [(60, 720), (60, 1920), (20, 240), (150, 4800), (36, 1100)]
    model = fit([[1.0, s, e] for s, e in work], [0.3 * s + 0.01 * e for s, e in work])
    assert model([1.0, 20, 500]) == pytest.approx(0.3 * 20 + 0.01 * 500, rel=1e-6)


def test_the_cache_view_reads_the_real_cache_and_never_writes_it(tmp_path):
    path = tmp_path / "queries.sqlite"
    with QueryCache(path) as cache:
        cache.claim(["stored"])
        cache.put_many("m", {"stored": Completion("positive", 10, 2)})
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    view = PlannedCache(StoredAnswers(path))
    assert view.get_many(["stored", "new"]) == {"stored": Completion("positive", 10, 2)}
    assert view.claim(["new", "new"]) == (["new"], [])  # always granted: nothing else runs during a plan
    view.put_many("m", {"new": Completion("negative", 11, 3)})
    assert set(view.get_many(["stored", "new"])) == {"stored", "new"}
    assert view.stored_hits == 2 and view.count() == 2
    view.stored.close()
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    with QueryCache(path) as cache:
        assert cache.count() == 1
    assert PlannedCache(StoredAnswers(tmp_path / "absent.sqlite")).get_many(["x"]) == {}
    assert not (tmp_path / "absent.sqlite").exists()


@pytest.mark.parametrize("seed", range(5))
def test_placeholders_parse_as_real_answers_do(seed):
    labels = ("negative", "neutral", "positive")
    prompts = ClassificationPrompts(labels)
    text = placeholder_for("classification", labels)(seed)
    assert prompts.parse_label(text)[1] == "ok" and prompts.parse_text(text, "a source tweet")[1] == "ok"
    math = MathPrompts()
    text = placeholder_for("generation", [])(seed)
    assert math.parse_answer(text)[1] == "ok" and math.parse_question(text, "another question?")[1] == "ok"
    assert math.parse_check(text) == (True, "ok")


def test_the_launcher_refuses_a_sweeper_that_needs_results():
    from hydra_plugins.sgen_plan_launcher._impl import PlanLauncherImpl

    config = OmegaConf.create({"hydra": {"sweeper": {
        "_target_": "hydra_plugins.sgen_optuna_sweeper.sgen_optuna_sweeper.SgenOptunaSweeper"}}})
    with pytest.raises(ValueError, match="plans the jobs of Hydra's basic sweeper"):
        PlanLauncherImpl().setup(hydra_context=None, task_function=None, config=config)
