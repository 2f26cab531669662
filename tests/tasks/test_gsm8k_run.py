"""`python -m sgen task=gsm8k` end to end: roles booked as the strategies define them, provenance on disk."""
from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import gsm8k_dir, read_jsonl, read_metrics, run_sgen

GSM8K = [f"task.data_dir={gsm8k_dir()}", "task=gsm8k", "progress=false", "task.seed_size=6",
         "task.test_size=8", "task.few_shot=1", "task.answer_generation.max_new_tokens=24",
         "task.question_generation.max_new_tokens=16"]
TINY_GEN = [*GSM8K, "teacher=tiny", "augmenter=tiny", "student=sft_tiny"]
PURPOSES = {"teacher": {"answer"}, "augmenter": {"rephrase", "new_question"}, "verifier": {"vote"}}


@pytest.fixture(scope="module")
def mix_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gsm8k") / "run"
    run_sgen(*TINY_GEN, "strategy=mix", "verifier=majority", "budget.queries=30", f"hydra.run.dir={out}")
    return out


def test_queries_are_booked_by_role(mix_run):
    m = read_metrics(mix_run)
    assert m["task"] == "gsm8k" and m["strategy"] == "mix" and m["budget"] == 30
    assert m["augmenter"] != m["teacher"]  # augmenter=tiny is a different model from the tiny teacher
    assert 30 - 5 < m["queries_used"] <= 30  # less than one item's cost (2 + 2 votes) left unspent
    rows = read_jsonl(mix_run / "synthetic.jsonl")
    booked = Counter(q["role"] for r in rows for q in r["queries"])
    assert dict(booked) == {k: v for k, v in m["queries_by_role"].items() if v}
    assert len(read_jsonl(mix_run / "queries.jsonl")) == m["queries_used"]
    for row in rows:
        for q in row["queries"]:
            assert q["purpose"] in PURPOSES[q["role"]]
        augmenter = [q for q in row["queries"] if q["role"] == "augmenter"]
        assert len(augmenter) == (0 if row["strategy"] == "new_answer" else 1)
        assert sum(q["role"] == "teacher" for q in row["queries"]) <= 1
    assert {r["strategy"] for r in rows} == {"new_answer", "rephrase", "new_question"}


def test_generation_metrics_are_reported(mix_run):
    m = read_metrics(mix_run)
    rows = read_jsonl(mix_run / "synthetic.jsonl")
    assert 0.0 <= m["accuracy"] <= 1.0 and "accuracy" in m["seed_only"] and "macro_f1" not in m
    assert set(m["gain"]) == {"accuracy"}
    assert 0.0 <= m["teacher_seed_accuracy"] <= 1.0 and 0.0 <= m["majority_baseline_accuracy"] <= 1.0
    assert sum(m["row_status_counts"].values()) == m["n_synthetic_generated"] == len(rows)
    assert m["n_synthetic"] == sum(r["kept"] for r in rows) and m["n_train"] == 6 + m["n_synthetic"]
    dropped = sum(r["parse_status"] == "ok" and not r["kept"] for r in rows)
    assert m["verifier_drop_rate"] == pytest.approx(dropped / len(rows))
    for row in rows:
        if row["kept"]:
            assert row["label"].splitlines()[-1].startswith("#### ")


def test_gold_verifier_with_rephrase_fails_before_any_query(tmp_path):
    out = tmp_path / "run"
    proc = run_sgen(*TINY_GEN, "strategy=rephrase", "verifier=gold", "budget.queries=10", f"hydra.run.dir={out}",
                    check=False)
    assert proc.returncode != 0 and "verifier=gold" in proc.stderr and "strategy=new_answer" in proc.stderr
    assert not (out / "queries.jsonl").exists()


@pytest.mark.slow
def test_gsm8k_with_bundled_smollm2_teacher_and_student(tmp_path):
    """The paper's answer augmentation at pocket scale: SmolLM2-135M answers 4 seed questions twice each, the
    same model (LoRA) learns from seed + synthetic and is scored by exact match on 10 test questions."""
    out = tmp_path / "run"
    run_sgen(*GSM8K, "task.seed_size=4", "task.test_size=10", "task.few_shot=2",
             "task.answer_generation.max_new_tokens=128", "teacher=smollm2", "student=sft", "student.epochs=1",
             "student.max_new_tokens=128", "student.max_length=384", "strategy=new_answer", "verifier=none",
             "budget.queries=8", f"hydra.run.dir={out}", timeout=1800)
    m = read_metrics(out)
    assert m["queries_by_role"] == {"teacher": 8, "augmenter": 0, "verifier": 0, "judge": 0}
    assert m["teacher"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and m["n_synthetic_generated"] == 8
    assert 0.0 <= m["teacher_seed_accuracy"] <= 1.0 and 0.0 <= m["accuracy"] <= 1.0
    rows = read_jsonl(out / "synthetic.jsonl")
    assert [r["sample_index"] for r in rows] == [0] * 4 + [1] * 4
    # A real instruct model states a final number in most of its answers.
    assert sum(r["parse_status"] == "ok" for r in rows) >= 4
