"""The typed seams between stages: the task answers for its labels and scores, students return a StudentResult, and
the run owns every resource it opens (teachers included) and closes each one, even when a stage fails."""
from __future__ import annotations

import json

import pytest

from sgen.job import run_job
from sgen.records import Example, GenerationParams
from sgen.students.base import Student, StudentResult
from sgen.students.trainer import ClassifierStudent
from sgen.tasks.base import Task
from sgen.tasks.gsm8k import GSM8KTask
from sgen.tasks.prompts import ClassificationPrompts
from sgen.teachers.hf import HFTeacher
from sgen.tiny import tiny_causal_lm


def test_the_task_says_what_labels_agree_on_and_how_texts_score():
    math = GSM8KTask()
    assert math.answer_key("3 + 4 = 7\n#### 7") == math.answer_key("so seven: #### 7.00") == "7"
    assert math.answer_key("no number here") is None
    assert math.score("... #### 1,000", "#### 1000") and not math.score("nothing", "#### 1000")
    assert math.evaluate(["#### 2", "#### 5"], [Example("a", "q", "#### 2"), Example("b", "q", "#### 3")]) == \
        {"accuracy": 0.5}


def test_a_classification_task_parses_generated_texts_to_labels(tiny_cfg):
    from hydra.utils import instantiate

    task = instantiate(tiny_cfg().task)
    task.prompts = ClassificationPrompts(("negative", "neutral", "positive"), "tweet", "sentiment")
    assert task.answer_key("positive") == "positive"
    test = [Example("a", "t", "positive"), Example("b", "t", "negative"), Example("c", "t", "neutral")]
    scores = task.evaluate(["positive", "Sentiment: negative", "no idea"], test)
    assert scores["accuracy"] == pytest.approx(2 / 3) and scores["parse_failure_rate"] == pytest.approx(1 / 3)
    assert 0 < scores["macro_f1"] < 1


def test_students_and_tasks_are_typed():
    assert issubclass(ClassifierStudent, Student) and ClassifierStudent.kinds == ("classification",)
    assert set(Task.__abstractmethods__) == {"load", "sft_pairs"}
    result = StudentResult(scores={"accuracy": 0.5}, train_steps=3, train_loss_final=0.1, precision="32-true",
                           seconds_train=1.0, seconds_eval=0.5)
    # metrics.json gets the scores and the training facts; the seconds go to the stage timings.
    assert result.metrics() == {"accuracy": 0.5, "train_loss_final": 0.1, "train_steps": 3,
                                "student_precision": "32-true"}


def test_close_releases_the_weights_a_teacher_loaded_and_load_takes_them_again(tmp_path):
    model, tokenizer = tiny_causal_lm("llama", seed=3)
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    teacher = HFTeacher(str(tmp_path / "m"), dtype="float32", device="cpu")
    prompts = [[{"role": "user", "content": "hello there"}]]
    params = GenerationParams(max_new_tokens=4)
    first = [c.text for c in teacher.generate(prompts, params)]
    teacher.close()
    assert teacher._model is None and teacher.model_id == str(tmp_path / "m")
    assert [c.text for c in teacher.generate(prompts, params)] == first
    prebuilt = HFTeacher("tiny", prebuilt=(model, tokenizer), dtype="float32", device="cpu")
    prebuilt.load()
    prebuilt.close()
    assert prebuilt._model is model  # a prebuilt model belongs to its caller


@pytest.fixture
def closes(monkeypatch):
    closed = []
    original = HFTeacher.close

    def record(self):
        closed.append(self.model_id)
        original(self)

    monkeypatch.setattr(HFTeacher, "close", record)
    return closed


def test_a_run_closes_its_teachers(tiny_cfg, closes):
    run_job(tiny_cfg("budget.queries=8", "task.seed_size=20"))
    assert len(closes) == 1


def test_a_failed_stage_still_closes_the_teachers_and_the_tracker(tiny_cfg, closes, monkeypatch, tmp_path):
    def broken(self, *args, **kwargs):
        raise RuntimeError("student exploded")

    monkeypatch.setattr(ClassifierStudent, "train_and_evaluate", broken)
    finished = []
    from sgen.tracking import CSVTracker

    original_finish = CSVTracker.finish
    monkeypatch.setattr(CSVTracker, "finish", lambda self, failed: finished.append(failed) or original_finish(
        self, failed=failed))
    with pytest.raises(RuntimeError, match="student exploded"):
        run_job(tiny_cfg("budget.queries=8", "task.seed_size=20"))
    assert len(closes) == 1 and finished == [True]
    assert json.loads((tmp_path / "run" / "status.json").read_text())["status"] == "failed"
