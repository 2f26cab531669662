"""verifier=judge: one judge query per row in its own role, rows kept by score, raw replies kept, and its precision
against gold where gold exists."""
from __future__ import annotations

import pytest

from sgen.records import Example, SyntheticRow, TaskData
from sgen.synthetic_stats import judge_stats
from sgen.tasks.judging import parse_score
from sgen.tasks.prompts import ClassificationPrompts
from sgen.verifiers import JudgeVerifier
from tests.conftest import TINY, read_jsonl, read_metrics, run_sgen


@pytest.mark.parametrize("raw, score", [("Score: 4", 4), ("score=5.", 5), ("**Score:** 2", 2), ("3 - fine", 3),
                                        ("  5", 5), ("Score: 9", None), ("looks good", None), ("", None)])
def test_scores_parse_from_the_reply_format(raw, score):
    assert parse_score(raw)[0] == score


def test_threshold_keeps_rows_at_or_above_it_and_unparsed_replies_stay_raw():
    judge = JudgeVerifier(threshold=4)
    rows = [SyntheticRow(f"text {i}", "good", "rephrase", "ok") for i in range(4)]
    for row, raw in zip(rows, ["Score: 3", "Score: 4", "Score: 5", "I cannot grade this"], strict=True):
        judge._decide(row, raw)
    assert [r.kept for r in rows] == [False, True, True, False]
    assert rows[3].verifier == {"name": "judge", "score": None, "parse": "no_score", "raw": "I cannot grade this",
                                "threshold": 4}
    lenient = SyntheticRow("text", "good", "rephrase", "ok")
    JudgeVerifier(threshold=4, keep_unparsed=True)._decide(lenient, "no idea")
    assert lenient.kept and lenient.verifier["raw"] == "no idea"
    with pytest.raises(ValueError, match="threshold must be a score from 1 to 5"):
        JudgeVerifier(threshold=6)


def test_the_rubric_shows_a_rewrite_its_original():
    prompts = ClassificationPrompts(labels=("good", "bad"), text_kind="tweet", label_kind="sentiment")
    rewrite = prompts.judge("what a lovely day", "good", "such a nice day")
    assert "Original tweet: such a nice day" in rewrite[1]["content"] and "keep the original's meaning" in \
        rewrite[1]["content"]
    fresh = prompts.judge("what a lovely day", "good", None)
    assert "Original" not in fresh[1]["content"] and "Score: N" in fresh[0]["content"]


def test_precision_against_gold_counts_kept_rows_with_a_gold_source():
    seed = [Example("s1", "nice", "good"), Example("s2", "awful", "bad")]
    data = TaskData(seed=seed, unlabeled=[], test=[], labels=["good", "bad"], hidden_gold={"p1": "bad"})

    class Labels:
        @staticmethod
        def answer_key(label):
            return label

    def judged(text, label, strategy, source, kept, score):
        row = SyntheticRow(text, label, strategy, "ok", source_id=source, kept=kept)
        row.verifier = {"name": "judge", "score": score}
        return row

    rows = [judged("nice!", "good", "rephrase", "s1", True, 5),  # gold good: right
            judged("p1 text", "good", "annotate", "p1", True, 4),  # gold bad: wrong
            judged("awful!", "bad", "rephrase", "s2", False, 2),  # dropped: not graded
            judged("new one", "good", "new_question", "s1", True, 5),  # its own answer: no gold
            judged("odd", "bad", "annotate", "p1", False, None)]  # no score
    stats = judge_stats(rows, data, Labels())["judge"]
    assert stats == {"n_judged": 5, "drop_rate": 0.4, "unparsed": 1, "mean_score": 4.0, "n_gold": 2,
                     "precision_vs_gold": 0.5}


def test_tiny_run_books_one_judge_query_per_row_in_its_own_role(tmp_path):
    run_sgen(*TINY, "strategy=rephrase", "verifier=judge", "budget.queries=40", f"hydra.run.dir={tmp_path}",
             env={"SGEN_CACHE_DIR": str(tmp_path / "cache")})
    metrics = read_metrics(tmp_path)
    rows = read_jsonl(tmp_path / "synthetic.jsonl")
    judged = [r for r in rows if r["verifier"].get("name") == "judge"]
    assert judged  # the tiny augmenter's rewrites parse often enough to be judged
    roles = metrics["queries_by_role"]
    # Rephrase plans 1 rewrite + 1 judge query per row; only rewrites that parsed are judged.
    assert roles["augmenter"] == len(rows) and roles["judge"] == len(judged) and roles["teacher"] == 0
    assert roles["verifier"] == 0 and metrics["queries_used"] == len(rows) + len(judged) <= 40
    journal = read_jsonl(tmp_path / "queries.jsonl")
    assert sum(q["role"] == "judge" for q in journal) == len(judged)
    assert all(q["purpose"] == "judge" for q in journal if q["role"] == "judge")
    for row in judged:  # every reply is kept raw, parsed or not, and decides the row
        judge_query = next(q for q in row["queries"] if q["role"] == "judge")
        assert row["verifier"]["raw"] == judge_query["text"]
        assert row["kept"] == (row["verifier"]["score"] is not None and row["verifier"]["score"] >= 4)
    assert metrics["judge"]["n_judged"] == len(judged)
    assert metrics["cost_usd_by_role"]["judge"] == 0.0  # local weights cost no money


def test_a_separate_judge_model_answers_the_judge_queries_at_its_own_price(tmp_path):
    common = [*TINY, "strategy=rephrase", "verifier=judge", "budget.queries=40"]
    env = {"SGEN_CACHE_DIR": str(tmp_path / "cache")}
    run_sgen(*common, f"hydra.run.dir={tmp_path / 'teacher'}", env=env)
    run_sgen(*common, "judge=tiny", "judge.backend.price_per_million_prompt_tokens=3",
             "judge.backend.price_per_million_completion_tokens=6", f"hydra.run.dir={tmp_path / 'judge'}", env=env)
    by_teacher, by_judge = read_metrics(tmp_path / "teacher"), read_metrics(tmp_path / "judge")
    assert by_teacher["judge_model"] == by_teacher["teacher"] == "tiny-llama-32x2-s0"
    assert by_judge["judge_model"] == "tiny-gpt2-32x1-s2" and by_judge["teacher"] == "tiny-llama-32x2-s0"
    # The rewrites are the same augmenter queries (answered from the cache); the grades come from another model.
    assert by_judge["queries_by_role"]["augmenter"] == by_teacher["queries_by_role"]["augmenter"]
    assert by_judge["queries_cached"] == by_judge["queries_by_role"]["augmenter"]  # only the judge's were paid
    judge_replies = lambda run: [q["text"] for q in read_jsonl(tmp_path / run / "queries.jsonl")
                                 if q["role"] == "judge"]
    assert judge_replies("judge") and judge_replies("judge") != judge_replies("teacher")
    tokens = by_judge["prompt_tokens_by_role"]["judge"] * 3 + by_judge["completion_tokens_by_role"]["judge"] * 6
    assert tokens > 0 and by_judge["cost_usd_by_role"]["judge"] == pytest.approx(tokens / 1e6)
    assert by_judge["cost_usd_by_role"]["augmenter"] == 0.0  # the local teacher and augmenter cost nothing
