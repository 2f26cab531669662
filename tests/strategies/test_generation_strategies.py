"""Generation strategies on GSM8K with tiny real teachers: query accounting per role, budget, provenance, statuses."""
from __future__ import annotations

from collections import Counter

import pytest

from sgen.budget import MeteredTeacher, QueryLedger
from sgen.records import GenerationParams
from sgen.strategies import Annotate, GenerationContext, Mix, NewAnswer, NewQuestion, Rephrase
from sgen.tasks.gsm8k import GSM8KTask
from sgen.tasks.math_answers import extract_answer
from sgen.teachers.hf import tiny_teacher
from sgen.verifiers import GoldVerifier, MajorityVerifier, NoVerifier
from tests.conftest import gsm8k_dir


@pytest.fixture(scope="module")
def task_data():
    task = GSM8KTask(seed_size=4, unlabeled_size=30, test_size=5, data_dir=str(gsm8k_dir()))
    return task, task.load(0)


@pytest.fixture(scope="module")
def backends():
    # Whole-word tokens a random model then sometimes emits: "####" states an answer, "?" makes a question, and
    # "yes"/"no" an answerability verdict, so every path of the flows is taken.
    teacher = tiny_teacher("llama", seed=0, labels=("yes", "no", "####"))
    augmenter = tiny_teacher("gpt2", seed=1, labels=("yes", "no", "?", "how", "many"))
    return teacher, augmenter


def make_ctx(task_data, backends, budget: int, round_size: int = 5) -> GenerationContext:
    task, data = task_data
    teacher, augmenter = backends
    ledger = QueryLedger(budget)
    return GenerationContext(
        prompts=task.prompts, data=data,
        teacher=MeteredTeacher(teacher, ledger, "teacher", batch_size=8),
        augmenter=MeteredTeacher(augmenter, ledger, "augmenter", batch_size=8),
        verifier_client=MeteredTeacher(teacher, ledger, "verifier", batch_size=8),
        ledger=ledger, seed=0, few_shot=2,
        label_params=GenerationParams(24, 1.0), text_params=GenerationParams(20, 1.0), answer_key=task.answer_key,
        round_size=round_size)


def run(strategy, verifier, ctx, budget):
    strategy.check(ctx.data, budget, verifier)
    rows = strategy.generate(ctx, verifier, budget)
    assert ctx.ledger.used <= budget
    return rows


def roles(row) -> Counter:
    return Counter((q.role, q.purpose) for q in row.queries)


def test_new_answer_draws_k_answers_per_seed_question(task_data, backends):
    ctx = make_ctx(task_data, backends, 10)
    rows = run(NewAnswer(), NoVerifier(), ctx, 10)
    assert len(rows) == 10 and ctx.ledger.by_role == Counter(teacher=10)
    seed = ctx.data.seed
    gold = {e.id: extract_answer(e.label) for e in seed}
    for i, row in enumerate(rows):
        assert row.strategy == "new_answer" and row.source_id == seed[i % 4].id and row.text == seed[i % 4].text
        assert row.sample_index == i // 4 and row.target_label == gold[row.source_id]
        assert roles(row) == Counter({("teacher", "answer"): 1})
        # A parse failure keeps the raw text in its query and says why; a success ends in `#### N`.
        assert (row.parse_status == "ok") == (row.label is not None) == row.kept
        if row.kept:
            assert row.label.splitlines()[-1].startswith("#### ")
        else:
            assert row.parse_status in ("no_answer", "empty", "truncated") and row.label is None
            assert (row.parse_status == "empty") == (not row.queries[0].text.strip())
    # One prompt per question, the draw index tells the answers apart; the question is never its own exemplar.
    by_question = {}
    for row in rows:
        by_question.setdefault(row.source_id, []).append(row)
    for source, group in by_question.items():
        assert len({str(r.queries[0].prompt) for r in group}) == 1
        shown = " ".join(m["content"] for m in group[0].queries[0].prompt[:-1])
        assert next(e.text for e in seed if e.id == source) not in shown
    assert any(r.parse_status == "ok" for r in rows)


def test_answers_per_question_caps_the_items(task_data, backends):
    ctx = make_ctx(task_data, backends, 12)
    with pytest.raises(ValueError, match="pool holds only 8"):
        NewAnswer(answers_per_question=2).check(ctx.data, 12, NoVerifier())
    rows = run(NewAnswer(answers_per_question=2), NoVerifier(), ctx, 8)
    assert len(rows) == 8 and Counter(r.source_id for r in rows) == Counter({e.id: 2 for e in ctx.data.seed})


def test_rephrase_is_one_augmenter_and_one_teacher_query_per_row(task_data, backends):
    ctx = make_ctx(task_data, backends, 14)
    rows = run(Rephrase(), NoVerifier(), ctx, 14)
    parsed = [r for r in rows if any(q.role == "teacher" for q in r.queries)]
    for row in rows:
        assert row.strategy == "rephrase" and row.target_label == extract_answer(
            next(e.label for e in ctx.data.seed if e.id == row.source_id))
        assert row.queries[0].role == "augmenter" and row.queries[0].purpose == "rephrase"
        answered = [q for q in row.queries if q.role == "teacher"]
        assert len(row.queries) == 1 + len(answered) and len(answered) <= 1
        if not answered:  # the rewrite failed to parse: raw text kept, no teacher query spent on it
            assert row.parse_status in ("empty", "too_long", "copy_of_source", "no_question")
            assert row.text == row.queries[0].text
    assert ctx.ledger.by_role["augmenter"] == len(rows)
    assert ctx.ledger.by_role["teacher"] == len(parsed) == sum(len(r.queries) == 2 for r in rows)
    # Leftovers of failed rewrites fund more rows, until less than one row's cost (2) remains.
    assert len(parsed) > 0 and 14 - 2 < ctx.ledger.used <= 14


@pytest.mark.parametrize("check", [False, True])
def test_new_question_is_two_or_three_queries_per_row(task_data, backends, check):
    ctx = make_ctx(task_data, backends, 15)
    rows = run(NewQuestion(check_answerable=check), NoVerifier(), ctx, 15)
    sources = {e.id: e for e in ctx.data.seed}
    answered = 0
    for row in rows:
        purposes = [(q.role, q.purpose) for q in row.queries]
        question, _ = ctx.prompts.parse_question(row.queries[0].text, sources[row.source_id].text)
        if question is None:  # unparsable question: kept raw with its status, nothing more spent on it
            assert purposes == [("augmenter", "new_question")] and row.text == row.queries[0].text
            assert not row.kept and row.parse_status in ("empty", "too_long", "copy_of_source", "no_question")
            continue
        assert row.text == question
        if check:
            assert purposes[:2] == [("augmenter", "new_question"), ("augmenter", "check_question")]
            verdict, _ = ctx.prompts.parse_check(row.queries[1].text)
            if verdict is not True:  # a 'no' (or no verdict) stops the row before the teacher pays for it
                assert len(purposes) == 2 and row.parse_status in ("unanswerable", "no_verdict")
                continue
        assert purposes[-1] == ("teacher", "answer") and len(purposes) == (3 if check else 2)
        answered += 1
    by_role = ctx.ledger.by_role
    assert by_role["augmenter"] == sum(len(r.queries) for r in rows) - answered
    assert by_role["teacher"] == answered and by_role["verifier"] == 0
    assert answered > 0 or check
    if check:
        assert any(q.purpose == "check_question" for r in rows for q in r.queries)


def test_majority_adds_k_minus_1_verifier_answers(task_data, backends):
    ctx = make_ctx(task_data, backends, 30)
    verifier = MajorityVerifier(k=3)
    assert NewAnswer().cost_per_item(verifier, "generation") == 3
    rows = run(NewAnswer(), verifier, ctx, 30)
    voted = [r for r in rows if r.verifier]
    assert ctx.ledger.by_role["teacher"] == len(rows)
    assert ctx.ledger.by_role["verifier"] == 2 * len(voted)
    for row in rows:
        votes = [q for q in row.queries if q.role == "verifier"]
        if row.verifier:
            assert len(votes) == 2 and all(q.prompt == row.queries[0].prompt for q in votes)
            assert len(row.verifier["votes"]) == 3 and row.verifier["name"] == "majority"
            if row.kept:  # the kept answer reaches the majority number
                assert extract_answer(row.label) == Counter(v for v in row.verifier["votes"] if v).most_common(1)[0][0]
        else:
            assert votes == [] and row.parse_status != "ok"


def test_gold_keeps_only_answers_matching_the_seed_gold_and_costs_nothing(task_data, backends):
    ctx = make_ctx(task_data, backends, 12)
    rows = run(NewAnswer(), GoldVerifier(), ctx, 12)
    assert len(rows) == 12 and ctx.ledger.by_role == Counter(teacher=12)
    gold = {e.id: extract_answer(e.label) for e in ctx.data.seed}
    for row in rows:
        if row.parse_status == "ok":
            assert row.verifier["gold"] == gold[row.source_id]
            assert row.kept == (extract_answer(row.label) == gold[row.source_id])
        else:
            assert not row.kept and row.verifier == {}


@pytest.mark.parametrize("strategy", [Rephrase(), NewQuestion(), Annotate(),
                                      Mix({"new_answer": 1, "rephrase": 1}, {"new_answer": NewAnswer(),
                                                                             "rephrase": Rephrase()})])
def test_gold_refuses_everything_but_new_answer_before_any_query(task_data, backends, strategy):
    ctx = make_ctx(task_data, backends, 10)
    with pytest.raises(ValueError, match="verifier=gold .* needs strategy=new_answer on a generation task"):
        strategy.check(ctx.data, 10, GoldVerifier())
    assert ctx.ledger.used == 0


def test_annotate_answers_pool_questions_once(task_data, backends):
    ctx = make_ctx(task_data, backends, 9)
    rows = run(Annotate(), NoVerifier(), ctx, 9)
    assert [r.source_id for r in rows] == [e.id for e in ctx.data.unlabeled[:9]]
    assert ctx.ledger.by_role == Counter(teacher=9) and all(r.strategy == "annotate" for r in rows)
    with pytest.raises(ValueError, match="pool holds only 30"):
        Annotate().check(ctx.data, 31, NoVerifier())


def test_rephrase_without_relabel_is_refused_for_generation(task_data, backends):
    ctx = make_ctx(task_data, backends, 10)
    with pytest.raises(ValueError, match="relabel=false"):
        Rephrase(relabel=False).check(ctx.data, 10, NoVerifier())


@pytest.mark.parametrize("budget", [0, 1, 2, 5, 7, 11])
@pytest.mark.parametrize("verifier", [NoVerifier(), MajorityVerifier(k=2), MajorityVerifier(k=4)])
def test_mix_never_exceeds_the_budget(task_data, backends, budget, verifier):
    ctx = make_ctx(task_data, backends, budget, round_size=3)
    mix = Mix({"new_answer": 1, "rephrase": 1, "new_question": 1, "annotate": 1},
              {"new_answer": NewAnswer(), "rephrase": Rephrase(), "new_question": NewQuestion(True),
               "annotate": Annotate()})
    rows = run(mix, verifier, ctx, budget)
    assert ctx.ledger.used == sum(len(r.queries) for r in rows) <= budget
    assert ctx.ledger.used >= budget - (4 + verifier.extra_queries(True))  # at most one item's worth left over
