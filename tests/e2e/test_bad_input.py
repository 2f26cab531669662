"""Bad input fails with a clear message before any teacher query is spent."""
from __future__ import annotations

import json

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


def one_line_error(proc, *fragments: str) -> str:
    """The run failed before any query with one `sgen: error:` line (no traceback) holding every fragment."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in lines if line.startswith("sgen: error: ")]
    assert len(errors) == 1 and len(lines) <= 3, proc.stderr[-2000:]
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def custom(tmp_path, name: str, data: bytes, *extra: str):
    path = tmp_path / name
    path.write_bytes(data)
    out = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
    proc = run_sgen(*TINY, "task=custom", f"task.source.train_file={path}", "task.seed_size=4", "task.test_size=4",
                    *extra, f"hydra.run.dir={out}", check=False)
    assert proc.returncode == 0 or not (out / "queries.jsonl").exists()  # a refused run spent no query
    return proc, path


def rows(n: int, labels=("good", "bad")) -> bytes:
    return ("text,label\n" + "".join(f"row number {i},{labels[i % len(labels)]}\n" for i in range(n))).encode()


def test_input_errors_are_one_line_without_a_traceback(tmp_path):
    one_line_error(run_sgen(*TINY, "strategy=new_answer", "budget=3k", "task.unlabeled_size=100",
                            f"hydra.run.dir={tmp_path / 'a'}", check=False), "lower the budget to at most 100")
    one_line_error(run_sgen(*TINY, "task.seed_size=999999", f"hydra.run.dir={tmp_path / 'b'}", check=False),
                   "task.seed_size=999999 is larger than")
    one_line_error(run_sgen(*TINY, "task=custom", f"hydra.run.dir={tmp_path / 'c'}", check=False), "train_file")
    one_line_error(run_sgen(*TINY, "strategy=mix", "strategy.weights.new_answer=-1",
                            f"hydra.run.dir={tmp_path / 'd'}", check=False), "mix weights must be >= 0", "-1")
    # status.json names the error that found it, through Hydra's instantiate wrapper.
    status = json.loads((tmp_path / "d" / "status.json").read_text())
    assert status["error"].startswith("ValueError: mix weights must be >= 0")


def test_an_empty_or_header_only_file_has_no_data_rows(tmp_path):
    for name, data in (("empty.csv", b""), ("header.csv", b"text,label\n")):
        proc, path = custom(tmp_path, name, data)
        one_line_error(proc, f"file {path} has no data rows")


def test_single_label_data_is_refused(tmp_path):
    proc, _ = custom(tmp_path, "one.csv", rows(40, labels=("good",)))
    one_line_error(proc, "single label ('good')", "at least two")


def test_undecodable_text_names_the_file_line_and_encoding(tmp_path):
    data = rows(20) + "café crème été,good\n".encode("latin-1")
    proc, path = custom(tmp_path, "latin.csv", data)
    one_line_error(proc, f"{path}, line 22, is not valid utf-8", "task.source.encoding")
    proc, _ = custom(tmp_path, "latin.csv", data, "task.source.encoding=latin-1", "budget.queries=0")
    assert proc.returncode == 0, proc.stderr[-2000:]  # read right once the encoding is named
    proc, _ = custom(tmp_path, "latin.csv", data, "task.source.encoding=klingon")
    one_line_error(proc, "task.source.encoding='klingon' names no codec")


def test_a_broken_jsonl_line_names_the_file_and_line(tmp_path):
    good = "".join(f'{{"text": "row {i}", "label": "{("good", "bad")[i % 2]}"}}\n' for i in range(20))
    proc, path = custom(tmp_path, "data.jsonl", (good + '{"text": "broken", "label": \n').encode())
    one_line_error(proc, f"{path}, line 21, is not valid JSON")


def test_internal_errors_keep_their_traceback_and_debug_shows_one_for_input_errors(tmp_path, monkeypatch):
    from sgen.students.trainer import ClassifierStudent

    def bug(self, *args, **kwargs):
        raise RuntimeError("an internal bug")

    monkeypatch.setattr(ClassifierStudent, "train_and_evaluate", bug)
    proc = run_sgen(*TINY, "budget.queries=0", f"hydra.run.dir={tmp_path / 'a'}", check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "RuntimeError: an internal bug" in proc.stderr
    proc = run_sgen(*TINY, "task.seed_size=999999", f"hydra.run.dir={tmp_path / 'b'}", check=False,
                    env={"SGEN_DEBUG": "1"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "UserInputError" in proc.stderr
