"""The query cache: keys hash what changes an answer, hits are booked as cached, and answers are stored before use.

Every test that takes `cache` or `store` runs twice: on the SQLite store and on a real PostgreSQL server."""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace

import pytest

from sgen.budget import MeteredTeacher, QueryLedger, query_key
from sgen.records import GenerationParams
from sgen.teachers.hf import tiny_teacher
from tests.budget.helpers import PARAMS, SlowTeacher, open_cache, prompts
from tests.conftest import REPO


@pytest.fixture(scope="module")
def backend():
    teacher = tiny_teacher(batch_size=8)
    teacher.load()
    return teacher


@pytest.fixture
def cache(store):
    with open_cache(store()) as c:
        yield c


def ask(backend, cache, n, batch_size=8, offset=0, budget=None, params=PARAMS, samples=None):
    ledger = QueryLedger(budget or n)
    records = MeteredTeacher(backend, ledger, "teacher", batch_size=batch_size, cache=cache).ask(
        prompts(n, offset), params, "label", samples)
    return ledger, records


def test_key_covers_model_params_prompt_and_sample_only():
    p = prompts(1)[0]
    base = query_key("m", PARAMS, p, 0)
    assert base == query_key("m", GenerationParams(6, 1, 1), p, 0)  # 1 == 1.0 in YAML
    changed = [query_key("m2", PARAMS, p, 0), query_key("m", replace(PARAMS, temperature=0.7), p, 0),
               query_key("m", replace(PARAMS, max_new_tokens=7), p, 0), query_key("m", PARAMS, prompts(1, 1)[0], 0),
               query_key("m", PARAMS, p, 1)]
    assert len({base, *changed}) == 6


def test_second_run_is_served_from_cache_whatever_the_batch_size(backend, cache):
    first, paid_records = ask(backend, cache, 20, batch_size=8)
    assert (first.summary()["queries_paid"], first.cached) == (20, 0)
    assert cache.count() == 20
    for batch_size in (1, 3, 64):
        again, records = ask(backend, cache, 20, batch_size=batch_size)
        assert (again.summary()["queries_paid"], again.cached, again.used) == (0, 20, 20)
        assert [r.text for r in records] == [r.text for r in paid_records]
        assert all(r.cached for r in records) and not any(r.cached for r in paid_records)
    assert cache.count() == 20


def test_sample_index_and_temperature_are_new_queries(backend, cache):
    ask(backend, cache, 10)
    resampled, _ = ask(backend, cache, 10, samples=[1] * 10)
    hotter, _ = ask(backend, cache, 10, params=replace(PARAMS, temperature=0.7))
    assert resampled.summary()["queries_paid"] == 10 and hotter.summary()["queries_paid"] == 10
    assert cache.count() == 30


def test_a_prefix_run_reuses_and_a_longer_run_pays_only_the_rest(backend, cache):
    ask(backend, cache, 12)
    longer, records = ask(backend, cache, 30)
    assert (longer.summary()["queries_paid"], longer.cached) == (18, 12)
    assert [r.cached for r in records] == [True] * 12 + [False] * 18
    assert cache.count() == 30


def test_nested_budgets_across_hosts(backend, store):
    """A 12-query job on one host, then a 30-query job on another (its own connection and host name): the second
    pays only the 18 the first did not, and a third host asking the first 12 again pays nothing."""
    spec = store()
    with open_cache(spec, host="node-a") as a:
        small, _ = ask(backend, a, 12)
    with open_cache(spec, host="node-b") as b:
        large, records = ask(backend, b, 30)
    with open_cache(spec, host="node-c") as c:
        again, _ = ask(backend, c, 12)
        assert c.count() == 30 and c.claim_count() == 0
    assert [small.summary()["queries_paid"], large.summary()["queries_paid"], again.summary()["queries_paid"]] == [
        12, 18, 0]
    assert [r.cached for r in records] == [True] * 12 + [False] * 18


def test_repeated_query_in_one_chunk_is_paid_once(backend, cache):
    ledger = QueryLedger(6)
    p = prompts(3)
    records = MeteredTeacher(backend, ledger, "teacher", batch_size=6, cache=cache).ask(p + p, PARAMS, "label")
    assert (ledger.summary()["queries_paid"], ledger.cached, ledger.used) == (3, 3, 6)
    assert [r.text for r in records[:3]] == [r.text for r in records[3:]]


def test_cache_hits_still_count_against_the_budget(backend, cache):
    ask(backend, cache, 10)
    ledger, _ = ask(backend, cache, 10, budget=10)
    assert ledger.remaining == 0
    assert ledger.summary()["queries_used"] == 10


def test_same_queries_regenerate_identically_whatever_the_chunks(backend, store):
    """Each query's sampling seed comes from its own key, so a rerun after a crash, or a run chunked otherwise,
    draws the same answers."""
    with open_cache(store("a")) as a, open_cache(store("b")) as b:
        _, first = ask(backend, a, 16, batch_size=8)
        _, second = ask(backend, b, 16, batch_size=3)
    assert [r.text for r in first] == [r.text for r in second]
    assert len({r.text for r in first}) > 1  # sampled, not one repeated string


class _FailingTeacher(SlowTeacher):
    def __init__(self, inner, fail_on_call: int) -> None:
        super().__init__(inner, 0.0)
        self.fail_on_call = fail_on_call

    def generate(self, prompts, params, seeds=None, on_result=None):
        if len(self.calls) + 1 == self.fail_on_call:
            raise ConnectionError("teacher went away")
        return super().generate(prompts, params, seeds, on_result)


def test_answers_are_committed_before_booking_and_a_failure_frees_its_claims(backend, cache, store):
    failing = _FailingTeacher(backend, fail_on_call=3)
    ledger = QueryLedger(40)
    with pytest.raises(ConnectionError):
        MeteredTeacher(failing, ledger, "teacher", batch_size=8, cache=cache).ask(prompts(40), PARAMS, "label")
    assert cache.count() == 16 and ledger.used == 16  # two chunks done, stored, booked
    assert cache.claim_count() == 0
    resumed, records = ask(backend, cache, 40)
    assert (resumed.summary()["queries_paid"], resumed.cached) == (24, 16)
    with open_cache(store("fresh")) as fresh:
        uninterrupted = ask(backend, fresh, 40)[1]
    assert [r.text for r in records] == [r.text for r in uninterrupted]


class _DiesMidCall(SlowTeacher):
    """A local backend that reports `survive` answers one by one, then dies inside the same call."""

    def __init__(self, inner, survive: int) -> None:
        super().__init__(inner, 0.0)
        self.survive = survive

    def generate(self, prompts, params, seeds=None, on_result=None):
        reported = []

        def report(i, completion):
            if len(reported) == self.survive:
                raise MemoryError("killed mid-call")
            reported.append(i)
            on_result(i, completion)

        return super().generate(prompts, params, seeds, report)


def test_answers_finished_before_a_crash_mid_call_are_kept(backend, cache, store):
    ledger = QueryLedger(40)
    with pytest.raises(MemoryError):
        MeteredTeacher(_DiesMidCall(backend, survive=11), ledger, "teacher", batch_size=40, cache=cache).ask(
            prompts(40), PARAMS, "label")
    assert cache.count() == 11 and ledger.used == 0  # committed as they finished; nothing booked yet
    assert cache.claim_count() == 0
    resumed, records = ask(backend, cache, 40, batch_size=40)
    assert (resumed.summary()["queries_paid"], resumed.cached) == (29, 11)
    with open_cache(store("fresh")) as fresh:
        uninterrupted = ask(backend, fresh, 40)[1]
    assert [r.text for r in records] == [r.text for r in uninterrupted]


def _claim_as(cache, key: str, pid: int, expires: float, host: str | None = None) -> None:
    with cache._transaction(cache._connect()):
        cache._execute("INSERT INTO claims (key, owner, host, pid, pid_start, expires) VALUES (?, ?, ?, ?, '', ?)",
                       (key, f"other:{pid}", host or cache.host, pid, expires))


def test_claims_of_dead_processes_and_expired_leases_are_taken_over(cache):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _claim_as(cache, "dead", dead.pid, time.time() + 600)
        _claim_as(cache, "expired", live.pid, time.time() - 1)
        _claim_as(cache, "live", live.pid, time.time() + 600)
        _claim_as(cache, "remote", 1, time.time() + 600, host="another-node")
        mine, others = cache.claim(["dead", "expired", "live", "remote", "new"])
    finally:
        live.kill()
        live.wait()
    assert sorted(mine) == ["dead", "expired", "new"]
    assert sorted(others) == ["live", "remote"]
    assert cache.stats["taken_over"] == 2
    # Once its owner is gone (and reaped), the live claim is free too; the remote one waits for its lease.
    assert cache.claim(["live", "remote"]) == (["live"], ["remote"])


def test_waiting_job_gets_the_value_the_claim_owner_commits(backend, cache, store):
    key = query_key(backend.model_id, PARAMS, prompts(1)[0], 0)
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from tests.budget.helpers import open_cache\n"
        "from sgen.records import Completion\n"
        f"c = open_cache({store()!r})\n"
        f"assert c.claim([{key!r}]) == ([{key!r}], [])\n"
        "print('claimed', flush=True)\n"
        "time.sleep(1.0)\n"
        f"c.put_many('m', {{{key!r}: Completion('from the other job', 3, 2)}})\n")],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert writer.stdout.readline().strip() == "claimed"
    ledger, records = ask(backend, cache, 1)
    writer.wait(timeout=30)
    assert records[0].text == "from the other job" and records[0].cached
    assert ledger.summary()["queries_paid"] == 0 and cache.stats["waited"] == 1


def test_bad_lease_is_refused(store):
    with pytest.raises(ValueError, match="lease_seconds must be > 0, got 0"):
        open_cache(store(), lease_seconds=0)


def _raced(spec: dict, other, answers: dict):
    """A cache where another job commits the chunk's answers right after this job's lookup missed them."""
    cache = open_cache(spec)
    lookup = cache.get_many

    def get_many(keys):
        found = lookup(keys)
        if answers:
            other.put_many("m", dict(answers))
            answers.clear()
        return found

    cache.get_many = get_many
    return cache


def test_answers_committed_between_lookup_and_claim_are_used_not_regenerated(backend, cache, store):
    from sgen.records import Completion

    keys = [query_key(backend.model_id, PARAMS, p, 0) for p in prompts(4)]
    answers = {k: Completion(f"answer {i}", 3, 2) for i, k in enumerate(keys[:3])}  # the 4th is still missing
    with _raced(store(), other=cache, answers=answers) as raced:
        ledger, records = ask(backend, raced, 4)
    assert [r.text for r in records[:3]] == ["answer 0", "answer 1", "answer 2"]
    assert (ledger.summary()["queries_paid"], ledger.cached) == (1, 3)
    assert cache.count() == 4


class _Bar:
    def __init__(self) -> None:
        self.updates: list[tuple[int, int]] = []

    def update(self, n_queries: int, n_tokens: int) -> None:
        self.updates.append((n_queries, n_tokens))


def test_progress_moves_answer_by_answer_and_counts_each_query_once(backend, cache):
    ask(backend, cache, 10, batch_size=40)  # 10 of the 40 are cached: shown at the chunk's end
    bar = _Bar()
    records = MeteredTeacher(backend, QueryLedger(40), "teacher", progress=bar, batch_size=40, cache=cache).ask(
        prompts(40), PARAMS, "label")
    assert all(n == 1 for n, _ in bar.updates[:30])
    assert len(bar.updates) == 31 and bar.updates[-1][0] == 10  # 30 as generated, then the 10 cached ones
    assert sum(n for n, _ in bar.updates) == 40
    assert sum(t for _, t in bar.updates) == sum(r.completion_tokens for r in records)


def test_a_store_from_a_newer_sgen_is_refused_not_misread(store):
    spec = store()
    with open_cache(spec) as cache:
        with cache._transaction(cache._connect()):
            cache._execute("UPDATE sgen_meta SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(ValueError, match="has schema version 99, but this sgen knows only version 1"):
        open_cache(spec)


def test_any_text_a_model_can_emit_is_stored_and_read_back_unchanged(store):
    """A NUL character, emoji, right-to-left text, a lone backslash: an answer that cannot be stored would be paid
    and lost (PostgreSQL's TEXT refuses NUL, so that store keeps UTF-8 bytes)."""
    from sgen.records import Completion

    texts = {"nul": "before\x00after", "emoji": "ok 👍🏽", "rtl": "שלום عالم", "slash": "a\\b", "empty": ""}
    with open_cache(store()) as cache:
        assert cache.claim(list(texts))[0] == list(texts)
        cache.put_many("m", {k: Completion(t, 1, 1) for k, t in texts.items()})
    with open_cache(store()) as cache:
        assert {k: c.text for k, c in cache.get_many(list(texts)).items()} == texts
