"""Bad input fails with a clear message before any teacher query is spent."""
from __future__ import annotations

from tests.conftest import TINY, run_sgen


def test_unknown_option_lists_valid_ones(tmp_path):
    proc = run_sgen(*TINY, "strategy=new_questions", f"hydra.run.dir={tmp_path}", check=False, subprocess_cli=True)
    assert proc.returncode != 0
    err = proc.stderr
    assert "new_questions" in err and "new_answer" in err and "rephrase" in err and "new_question" in err


def test_budget_beyond_pool_fails_before_any_query(tmp_path):
    out = tmp_path / "run"
    proc = run_sgen(*TINY, "strategy=new_answer", "budget=3k", "task.unlabeled_size=100", f"hydra.run.dir={out}",
                    check=False)
    assert proc.returncode != 0
    assert "pool holds only 100" in proc.stderr and "lower the budget to at most 100" in proc.stderr
    assert not (out / "queries.jsonl").exists() and not (out / "metrics.json").exists()


def test_seed_size_beyond_data_fails_clearly(tmp_path):
    proc = run_sgen(*TINY, "task.seed_size=999999", f"hydra.run.dir={tmp_path}", check=False)
    assert proc.returncode != 0 and "task.seed_size=999999 is larger than" in proc.stderr


def test_missing_required_value_is_named(tmp_path):
    proc = run_sgen(*TINY, "task=custom", f"hydra.run.dir={tmp_path}", check=False)
    assert proc.returncode != 0 and "train_file" in proc.stderr


def test_cfg_job_prints_composed_config():
    proc = run_sgen("--cfg", "job", "strategy=rephrase", "budget=10k")
    assert "_target_: sgen.strategies.Rephrase" in proc.stdout and "queries: 10000" in proc.stdout


def test_generation_task_with_a_classifier_student_fails_before_any_query(tmp_path):
    out = tmp_path / "run"
    proc = run_sgen("teacher=tiny", "student=tiny", "task=gsm8k", "task.seed_size=5", "task.test_size=5",
                    "progress=false", f"hydra.run.dir={out}", check=False)
    assert proc.returncode != 0 and "use student=sft or student=seq2seq" in proc.stderr
    assert not (out / "queries.jsonl").exists()
