"""Bad input fails with a clear message before any teacher query is spent."""
from __future__ import annotations

import json

import pytest

from tests.conftest import TINY, run_sgen


def test_unknown_option_lists_valid_ones(tmp_path):
    proc = run_sgen(*TINY, "strategy=new_questions", f"hydra.run.dir={tmp_path}", check=False, subprocess_cli=True)
    # In a real process too: Hydra's multi-line report becomes one line naming the valid options.
    one_line_error(proc, "Could not find 'strategy/new_questions'",
                   "valid options: annotate, mix, new_answer, new_question, rephrase")


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
    """The run failed with one `sgen: error:` line (no traceback) holding every fragment; stderr has <= 3 lines."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in lines if line.startswith("sgen: error: ")]
    assert len(errors) == 1 and len(lines) <= 3, proc.stderr[-2000:]
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def rows(n: int, labels=("good", "bad")) -> bytes:
    return ("text,label\n" + "".join(f"row number {i},{labels[i % len(labels)]}\n" for i in range(n))).encode()


GOOD_JSONL = "".join(f'{{"text": "row {i}", "label": "{("good", "bad")[i % 2]}"}}\n' for i in range(20)).encode()
# The files the data cases read, written fresh per test: name -> bytes (None: a folder).
DATA_FILES = {
    "good.csv": rows(40),
    "empty.csv": b"",
    "header.csv": b"text,label\n",
    "no_label_column.csv": b"text,category\n" + b"".join(f"row {i},good\n".encode() for i in range(20)),
    "single.csv": rows(40, labels=("good",)),
    "few.csv": rows(2),
    "empty_texts.csv": b"text,label\n" + b"".join(f",{('good', 'bad')[i % 2]}\n".encode() for i in range(20)),
    "latin.csv": rows(20) + "café crème été,good\n".encode("latin-1"),
    "latin.jsonl": GOOD_JSONL + '{"text": "café", "label": "good"}\n'.encode("latin-1"),
    "broken.jsonl": GOOD_JSONL + b'{"text": "broken", "label": \n',
    "array_line.jsonl": GOOD_JSONL + b"[1, 2]\n",
    "notes.txt": b"hello\n",
    "plain_folder": None,
}
CUSTOM = ["task=custom", "task.source.train_file={data}/{file}", "task.seed_size=4", "task.test_size=4"]
OPENAI = ["teacher=openai", "teacher.backend.api_key_env=null"]
UNREACHABLE = [*OPENAI, "teacher.backend.base_url=http://127.0.0.1:9/v1"]

# (id, overrides ({data}: the data folder), fragments of the one error line). Every case fails before any query.
CASES = [
    # the command line: Hydra cannot compose it
    ("unknown strategy", ["strategy=new_questions"],
     ["Could not find 'strategy/new_questions'", "valid options: annotate, mix, new_answer, new_question, rephrase"]),
    ("unknown budget", ["budget=lots"], ["Could not find 'budget/lots'", "valid options: 0q, 100k"]),
    ("unknown student", ["student=bert"], ["Could not find 'student/bert'", "minilm"]),
    ("unknown teacher", ["teacher=gpt5"], ["Could not find 'teacher/gpt5'", "openai"]),
    ("unknown verifier", ["verifier=oracle"], ["Could not find 'verifier/oracle'", "none"]),
    ("unknown key", ["foo=bar"], ["Could not override 'foo'", "+foo=bar"]),
    ("override syntax", ["budget.queries=[1"], ["'[1'", "override_grammar"]),
    # the run's settings
    ("negative budget", ["budget.queries=-5"], ["budget.queries must be >= 0, got -5", "budget=2.5k"]),
    ("budget not a number", ["budget.queries=abc"], ["budget.queries='abc' is not a whole number"]),
    ("budget beyond the pool", ["strategy=new_answer", "budget=3k", "task.unlabeled_size=100"],
     ["pool holds only 100", "lower the budget to at most 100"]),
    ("negative ratio", ["budget=ratio", "budget.ratio=-2"], ["budget.ratio must be >= 0, got -2"]),
    ("negative dollars", ["budget=usd", "budget.usd=-1"], ["budget.usd=-1 is not a number of dollars >= 0"]),
    ("dollars not a number", ["budget.usd=lots"], ["budget.usd='lots' is not a number of dollars"]),
    ("no budget at all", ["budget=usd", "budget.usd=null"], ["neither budget.queries nor budget.usd"]),
    ("dollars for a free teacher", ["budget=usd"], ["the teacher tiny-llama-32x2-s0 costs nothing per token",
                                                     "price_per_million_prompt_tokens", "budget=300"]),
    ("judge model without the judge", ["judge=tiny"], ["judge=... names the model of verifier=judge",
                                                       "the verifier is none", "add verifier=judge"]),
    ("dollars for an unpriced server", [*UNREACHABLE, "budget=usd", "teacher.backend.model=my-model"],
     ["needs the price of every model it pays", "teacher my-model has none"]),
    ("seed not a number", ["seed=abc"], ["seed='abc' is not a whole number"]),
    ("query batch of 0", ["query_batch_size=0"], ["query_batch_size must be >= 1, got 0"]),
    ("round of 0", ["round_size=0"], ["round_size must be >= 1, got 0"]),
    ("negative temperature", ["teacher.text_generation.temperature=-1"],
     ["teacher.text_generation.temperature must be >= 0", "-1"]),
    ("top_p of 0", ["teacher.label_generation.top_p=0"], ["teacher.label_generation.top_p must be in (0, 1]"]),
    # the task
    ("seed set of 0", ["task.seed_size=0"], ["task.seed_size must be >= 1, got 0"]),
    ("seed set beyond the data", ["task.seed_size=999999"], ["task.seed_size=999999 is larger than", "at most"]),
    ("test set of 0", ["task.test_size=0"], ["task.test_size must be >= 1", "null"]),
    ("generation task, classifier student", ["task=gsm8k", "student=tiny", "task.seed_size=5", "task.test_size=5"],
     ["use student=sft or student=seq2seq"]),
    # the student
    ("negative learning rate", ["student.lr=-1"], ["student.lr must be > 0, got -1"]),
    ("zero epochs", ["student.epochs=0"], ["student.epochs must be >= 1, got 0"]),
    ("student model path that does not exist", ["student=minilm", "student.bundled_package=null",
                                                "student.model={data}/no_model"],
     ["student.model=", "no_model' is neither an existing file or folder nor a hub id"]),
    # the teacher
    ("hf teacher without a model", ["teacher=hf"], ["teacher.backend.model is required", "teacher.backend.model=..."]),
    ("hf teacher model path that does not exist", ["teacher=hf", "teacher.backend.model={data}/no_model.gguf"],
     ["no_model.gguf' is neither an existing file or folder"]),
    ("served teacher without its key", ["teacher=openai", "teacher.backend.api_key_env=SGEN_NO_SUCH_KEY"],
     ["$SGEN_NO_SUCH_KEY is not set", "api_key_env=null"]),
    ("served teacher unreachable", UNREACHABLE, ["cannot reach the teacher server at http://127.0.0.1:9/v1",
                                                 "check teacher.backend.base_url"]),
    ("served teacher url without a scheme", [*OPENAI, "teacher.backend.base_url=not-a-url"],
     ["must start with http:// or https://", "'not-a-url'"]),
    ("zero concurrency", [*UNREACHABLE, "teacher.backend.concurrency=0"],
     ["teacher.backend.concurrency must be >= 1, got 0"]),
    ("fine-tuning a served teacher", [*UNREACHABLE, "teacher.finetune=lora"],
     ["teacher.finetune needs a local transformers teacher", "teacher=hf"]),
    ("unknown fine-tuning setting", ["teacher.finetune={method: lora, rank: 8}"],
     ["unknown teacher.finetune settings ['rank']"]),
    ("fine-tuning with a negative lr", ["teacher.finetune={method: lora, lr: -1}"],
     ["teacher.finetune.lr must be > 0"]),
    # the strategy
    ("negative mix weight", ["strategy=mix", "strategy.weights.new_answer=-1"], ["mix weights must be >= 0", "-1"]),
    ("mix weights all 0", ["strategy=mix", "strategy.weights.new_answer=0", "strategy.weights.rephrase=0",
                           "strategy.weights.new_question=0"], ["mix weights are all 0", "positive weight"]),
    ("mix weight for an unknown strategy", ["strategy=mix", "+strategy.weights.paraphrase=1"],
     ["unknown strategies ['paraphrase']", "valid: ['new_answer', 'new_question', 'rephrase']"]),
    # the data (task=custom)
    ("custom task without a file", ["task=custom"], ["task.source.train_file is required"]),
    ("data file that does not exist", [*CUSTOM[:1], "task.source.train_file={data}/nope.csv"],
     ["data file", "nope.csv does not exist"]),
    ("folder that is no dataset", CUSTOM, ["plain_folder is a folder but not one saved by datasets' save_to_disk"]),
    ("empty file", CUSTOM, ["empty.csv has no data rows"]),
    ("header-only file", CUSTOM, ["header.csv has no data rows"]),
    ("rows without text", CUSTOM, ["empty_texts.csv has no data rows", "column names"]),
    ("no label column", CUSTOM, ["has no column(s) ['label']", "its columns are ['category', 'text']"]),
    ("wrong text column", [*CUSTOM, "task.source.text_column=review"], ["has no column(s) ['review']"]),
    ("single label", CUSTOM, ["single label ('good')", "at least two"]),
    ("too few rows for the test set", CUSTOM, ["task.test_size=4 but only 2 rows", "lower task.test_size"]),
    ("latin-1 csv", CUSTOM, ["latin.csv, line 22, is not valid utf-8", "task.source.encoding"]),
    ("latin-1 jsonl", CUSTOM, ["latin.jsonl, line 21, is not valid utf-8", "task.source.encoding"]),
    ("broken jsonl line", CUSTOM, ["broken.jsonl, line 21, is not valid JSON", "fix or remove that line"]),
    ("jsonl line that is no object", CUSTOM, ["array_line.jsonl, line 21, is a JSON list, not an object"]),
    ("unsupported file type", CUSTOM, ["unsupported data file", "notes.txt", "use .csv, .jsonl"]),
    ("unknown codec", [*CUSTOM, "task.source.encoding=klingon"], ["task.source.encoding='klingon' names no codec"]),
]
FILE_OF_CASE = {"folder that is no dataset": "plain_folder", "empty file": "empty.csv",
                "header-only file": "header.csv", "rows without text": "empty_texts.csv",
                "no label column": "no_label_column.csv", "wrong text column": "good.csv", "single label": "single.csv",
                "too few rows for the test set": "few.csv",
                "latin-1 csv": "latin.csv", "latin-1 jsonl": "latin.jsonl", "broken jsonl line": "broken.jsonl",
                "jsonl line that is no object": "array_line.jsonl", "unsupported file type": "notes.txt",
                "unknown codec": "good.csv"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-data")
    for name, content in DATA_FILES.items():
        if content is None:
            (folder / name).mkdir()
        else:
            (folder / name).write_bytes(content)
    return folder


@pytest.mark.parametrize("overrides, fragments", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_fails_with_one_line_before_any_query(tmp_path, data_dir, request, overrides, fragments):
    name = request.node.callspec.id
    filled = [o.replace("{data}", str(data_dir)).replace("{file}", FILE_OF_CASE.get(name, "")) for o in overrides]
    out = tmp_path / "run"
    proc = run_sgen(*TINY, *filled, f"hydra.run.dir={out}", check=False, env={"SGEN_CACHE_DIR": str(tmp_path)})
    one_line_error(proc, *fragments)
    assert not (out / "queries.jsonl").exists() and not (tmp_path / "queries.sqlite").exists(), name


def test_the_cases_are_the_issues_26_and_more():
    assert len(CASES) >= 26 and len({case[0] for case in CASES}) == len(CASES)
    assert set(FILE_OF_CASE) <= {case[0] for case in CASES}


def test_status_json_names_the_error_that_found_it(tmp_path):
    run_sgen(*TINY, "strategy=mix", "strategy.weights.new_answer=-1", f"hydra.run.dir={tmp_path}", check=False)
    # status.json names the error that found it, through Hydra's instantiate wrapper.
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["error"].startswith("ValueError: mix weights must be >= 0")


def test_a_named_encoding_reads_the_file_right(tmp_path, data_dir):
    proc = run_sgen(*TINY, "task=custom", f"task.source.train_file={data_dir / 'latin.csv'}", "task.seed_size=4",
                    "task.test_size=4", "task.source.encoding=latin-1", "budget.queries=0",
                    f"hydra.run.dir={tmp_path}", check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


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
