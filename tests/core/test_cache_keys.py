"""Caches are keyed on what they depend on: the resolved config node and the content of the data they read."""
from __future__ import annotations

import csv
import logging

import pytest

from sgen.assets import cache_root
from sgen.models import ModelSource, converted_path
from sgen.run import prepare, seed_only_path, seed_only_scores

LABELS = ["positive", "negative"] * 60


def _write(path, texts):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, LABELS, strict=True))


def _separable(i, label):
    return f"lovely great happy day {i}" if label == "positive" else f"awful sad terrible night {i}"


def _label_free(i, label):
    return f"some words here {i} and there"  # the same words whatever the label


@pytest.fixture
def custom_cfg(tiny_cfg, tmp_path):
    data = tmp_path / "data.csv"

    def make(texts, *overrides):
        _write(data, [texts(i, label) for i, label in enumerate(LABELS)])
        # No teacher (budget 0).
        return tiny_cfg("task=custom", f"task.source.train_file={data}", "task.seed_size=60", "task.test_size=40",
                        "budget.queries=0", *overrides)

    return make


def test_a_file_rewritten_with_other_texts_at_the_same_label_positions_gets_its_own_seed_only_score(custom_cfg,
                                                                                                       caplog):
    learns = "student.epochs=40"  # enough steps for the tiny student to fit separable data
    cfg = custom_cfg(_separable, learns)
    exp = prepare(cfg)
    first_path = seed_only_path(cfg, exp.task, exp.student, exp.data)
    first = seed_only_scores(cfg, exp.task, exp.student, exp.data)

    cfg = custom_cfg(_label_free, learns)  # same path, same row count, same labels in the same order
    exp = prepare(cfg)
    assert seed_only_path(cfg, exp.task, exp.student, exp.data) != first_path
    with caplog.at_level(logging.INFO, logger="sgen.run"):
        second = seed_only_scores(cfg, exp.task, exp.student, exp.data)
    assert "seed-only score from cache" not in caplog.text
    assert first["accuracy"] > 0.9  # the labels are in the words
    assert second["accuracy"] < first["accuracy"]


def test_the_seed_only_score_is_reused_when_nothing_it_depends_on_changed(custom_cfg, caplog):
    cfg = custom_cfg(_separable)
    exp = prepare(cfg)
    first = seed_only_scores(cfg, exp.task, exp.student, exp.data)
    # Result-neutral settings (progress bars, where outputs go) keep the key; the student's settings do not.
    same = custom_cfg(_separable, "progress=true")
    exp_same = prepare(same)
    assert seed_only_path(same, exp_same.task, exp_same.student, exp_same.data) == \
        seed_only_path(cfg, exp.task, exp.student, exp.data)
    with caplog.at_level(logging.INFO, logger="sgen.run"):
        assert seed_only_scores(same, exp_same.task, exp_same.student, exp_same.data) == first
    assert "seed-only score from cache" in caplog.text
    for override in ("student.lr=0.01", "task.text_kind=review", "seed=1"):
        other = custom_cfg(_separable, override)
        exp_other = prepare(other)
        assert seed_only_path(other, exp_other.task, exp_other.student, exp_other.data) != \
            seed_only_path(cfg, exp.task, exp.student, exp.data), override


def test_cache_disabled_keeps_the_seed_only_score_in_the_run_folder(custom_cfg, tmp_path):
    cfg = custom_cfg(_separable, "cache.enabled=false")
    exp = prepare(cfg)
    run_dir = tmp_path / "run"
    path = seed_only_path(cfg, exp.task, exp.student, exp.data, run_dir)
    assert path.parent == run_dir / "seed_only"
    seed_only_scores(cfg, exp.task, exp.student, exp.data, run_dir)
    assert path.exists()
    shared = custom_cfg(_separable)
    assert seed_only_path(shared, exp.task, exp.student, exp.data, run_dir).parent == cache_root() / "seed_only"


def test_converted_weights_are_keyed_on_the_gguf_content_not_its_path(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "m.gguf").write_bytes(b"GGUF weights v1")
    (second / "m.gguf").write_bytes(b"GGUF weights v1")
    v1 = converted_path(ModelSource(str(first), "m.gguf"))
    assert converted_path(ModelSource(str(second), "m.gguf")) == v1  # a copy elsewhere reuses the conversion
    (first / "m.gguf").write_bytes(b"GGUF weights, version 2")  # replaced in place
    assert converted_path(ModelSource(str(first), "m.gguf")) != v1
