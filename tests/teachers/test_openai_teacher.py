"""The openai backend against a real local HTTP server that injects faults: retries, limits, usage, secrecy."""
from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from sgen.budget import MeteredTeacher, QueryLedger
from sgen.records import GenerationParams
from sgen.teachers.http_retry import RetryPolicy, TeacherRequestError, parse_retry_after, redact
from sgen.teachers.openai import OpenAITeacher
from sgen.teachers.hf import tiny_teacher
from sgen.teachers.pricing import run_cost
from sgen.teachers.rate_limit import TokenBucket
from tests.teachers.fault_server import FAULTS, FaultServer, reply_for

KEY_ENV = "SGEN_TEST_OPENAI_KEY"
KEY = "sk-test-7f3a9c2e51d84b06"
FAST_RETRIES = dict(backoff_base=0.01, backoff_max=0.05, max_retries=12)
LABEL = GenerationParams(max_new_tokens=8, temperature=0.0, top_p=1.0)


def label_prompt(i: int, word: str) -> list[dict[str, str]]:
    body = ("Classify the tweet by its sentiment. Possible sentiments: negative, neutral, positive.\n\n"
            f"Tweet: today was {word} number {i}\nAnswer with the sentiment only.")
    return [{"role": "user", "content": body}]


def test_fault_server_answers_both_label_prompt_layouts():
    from sgen.records import Example
    from sgen.tasks.prompts import ClassificationPrompts

    prompts_ = ClassificationPrompts(("negative", "neutral", "positive"), "tweet", "sentiment")
    shots = [Example("s", "meh", "neutral")]
    assert reply_for(prompts_.label("I love this, great day", shots)) == "positive"
    assert reply_for(label_prompt(0, "awful")) == "negative"
    assert reply_for(prompts_.rephrase(Example("x", "so sad today", "negative"))) == "In other words, so sad today"
    assert "clearly positive" in reply_for(prompts_.new_input("positive", shots))


def prompts(n: int) -> list[list[dict[str, str]]]:
    return [label_prompt(i, ("great", "awful", "plain")[i % 3]) for i in range(n)]


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def teacher_for(server: FaultServer, **kwargs) -> OpenAITeacher:
    return OpenAITeacher(model="fault-model", base_url=server.base_url, api_key_env=KEY_ENV, **kwargs)


def test_every_query_completes_despite_every_kind_of_fault(key):
    # Each fault once, in order, then 35% faults at random: the answers are still the server's deterministic ones.
    rates = {"429": 0.1, "500": 0.05, "503": 0.05, "slow": 0.03, "truncated": 0.04, "malformed": 0.04,
             "bad_schema": 0.04}
    # The client's timeout is far above a normal answer's latency even on a loaded machine, so only "slow" times out.
    with FaultServer(rates=rates, script=list(FAULTS), slow_seconds=1.5, api_key=KEY, seed=3) as server:
        teacher = teacher_for(server, concurrency=8, timeout=1.0, **FAST_RETRIES)
        asked = prompts(60)
        out = teacher.generate(asked, LABEL, seeds=list(range(5, 65)))
        teacher.close()
    assert [c.text for c in out] == [reply_for(p) for p in asked]
    assert {c.text for c in out} == {"positive", "negative", "neutral"}
    assert teacher.stats.responses == server.stats.ok == 60
    assert sum(c.prompt_tokens for c in out) == server.stats.ok_prompt_tokens
    assert sum(c.completion_tokens for c in out) == server.stats.ok_completion_tokens
    seen = teacher.stats.failures
    assert {"http_429", "http_500", "http_503", "timeout", "connection", "malformed_json",
            "malformed_response"} <= set(seen)
    assert teacher.stats.retries == sum(seen.values()) == len(server.stats.arrivals) - 60


def test_one_query_walks_through_each_fault_in_turn(key):
    with FaultServer(script=list(FAULTS), slow_seconds=1.5, api_key=KEY) as server:
        teacher = teacher_for(server, concurrency=1, timeout=1.0, **FAST_RETRIES)
        [completion] = teacher.generate([label_prompt(0, "great")], LABEL)
        teacher.close()
    assert completion.text == "positive"
    assert len(server.stats.arrivals) == len(FAULTS) + 1
    assert teacher.stats.retries == len(FAULTS)
    assert teacher.stats.failures == {"http_429": 1, "http_500": 1, "http_503": 1, "timeout": 1, "connection": 1,
                                      "malformed_json": 1, "malformed_response": 1}


def test_retry_after_is_a_floor_on_the_wait(key):
    # No backoff of its own (base 0): only the server's Retry-After (sent as retry-after-ms) separates the tries.
    with FaultServer(script=["429", "429"], retry_after=0.3, api_key=KEY) as server:
        teacher = teacher_for(server, concurrency=1, backoff_base=0.0, max_retries=3)
        teacher.generate([label_prompt(0, "great")], LABEL)
        teacher.close()
    gaps = [b - a for a, b in zip(server.stats.arrivals, server.stats.arrivals[1:])]
    assert len(gaps) == 2 and min(gaps) >= 0.3


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after({"retry-after": later}) <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_grows_exponentially_within_full_jitter_and_respects_caps():
    import random

    policy = RetryPolicy(max_retries=5, backoff_base=0.5, backoff_max=4.0, max_wait=10.0)
    rng = random.Random(0)
    for attempt, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0]):
        draws = [policy.delay(attempt, rng=rng) for _ in range(200)]
        assert 0.0 <= min(draws) and max(draws) <= ceiling
        assert max(draws) > 0.8 * ceiling  # full jitter spans the whole range, not a narrow band
    assert policy.delay(0, retry_after=3.0, rng=rng) >= 3.0
    assert policy.delay(0, retry_after=60.0, rng=rng) == 10.0  # a huge Retry-After is capped by max_wait


def test_exhausted_retries_raise_and_nothing_is_booked(key):
    with FaultServer(rates={"500": 1.0}, api_key=KEY) as server:
        teacher = teacher_for(server, concurrency=4, backoff_base=0.0, max_retries=2)
        ledger = QueryLedger(budget=10)
        metered = MeteredTeacher(teacher, ledger, role="teacher", batch_size=4)
        with pytest.raises(TeacherRequestError, match="failed 3 times.*http_500.*max_retries"):
            metered.ask(prompts(4), LABEL, purpose="label")
        teacher.close()
    assert ledger.used == 0 and ledger.summary()["prompt_tokens"] == 0
    assert len(server.stats.arrivals) <= 4 * 3  # each query tried at most 1 + max_retries times


def test_a_rejected_key_fails_before_any_query_and_is_redacted(monkeypatch):
    wrong = "sk-wrong-0a1b2c3d4e5f"
    monkeypatch.setenv(KEY_ENV, wrong)
    with FaultServer(api_key="sk-the-right-one") as server:
        with pytest.raises(PermissionError) as checked:
            teacher_for(server).load()  # GET /models: free, and the server echoes the key it got
        teacher = teacher_for(server, check_connection=False, **FAST_RETRIES)
        with pytest.raises(TeacherRequestError) as asked:
            teacher.generate([label_prompt(0, "great")], LABEL)
        teacher.close()
    for exc in (checked.value, asked.value):
        assert "[REDACTED]" in str(exc) and wrong not in str(exc) and KEY_ENV in str(exc)
    assert len(server.stats.arrivals) == 0  # 401 is not retried and no chat request got through
    assert wrong not in repr(teacher)


def test_missing_key_variable_fails_before_any_request(monkeypatch):
    monkeypatch.delenv("SGEN_TEST_UNSET_KEY", raising=False)
    with FaultServer() as server:
        teacher = OpenAITeacher(model="m", base_url=server.base_url, api_key_env="SGEN_TEST_UNSET_KEY")
        with pytest.raises(ValueError, match=r"\$SGEN_TEST_UNSET_KEY is not set.*api_key_env=null"):
            teacher.generate([label_prompt(0, "great")], LABEL)
        # A server without authentication: no key, no Authorization header.
        open_teacher = OpenAITeacher(model="m", base_url=server.base_url, api_key_env=None)
        assert open_teacher.generate([label_prompt(0, "great")], LABEL)[0].text == "positive"
        open_teacher.close()
    assert server.stats.auth_headers == {False: 2}  # GET /models and one chat request, both without a key


def test_request_body_maps_sampling_params_and_seeds_each_prompt(key):
    params = GenerationParams(max_new_tokens=17, temperature=0.7, top_p=0.9)
    same = label_prompt(0, "great")
    with FaultServer(api_key=KEY) as server:
        teacher = teacher_for(server, extra_body={"top_k": 5})
        teacher.generate([same, same, label_prompt(1, "awful")], params, seeds=[42, 43, 7])
        teacher_for(server, max_tokens_field="max_completion_tokens", send_seed=False).generate([same], params)
    bodies = sorted(server.stats.bodies[:3], key=lambda b: b["seed"])
    assert [b["seed"] for b in bodies] == [7, 42, 43]  # each query's own seed, whatever its place in the call
    assert all(b["temperature"] == 0.7 and b["top_p"] == 0.9 and b["max_tokens"] == 17 and b["top_k"] == 5
               and b["model"] == "fault-model" and b["n"] == 1 for b in bodies)
    last = server.stats.bodies[3]
    assert last["max_completion_tokens"] == 17 and "max_tokens" not in last and "seed" not in last


def test_token_bucket_paces_to_the_configured_rate_on_a_virtual_clock():
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(per_minute=600, clock=lambda: now[0], sleep=sleep)  # 10/s, holds 10

    async def take(n: int) -> list[float]:
        stamps = []
        for _ in range(n):
            await bucket.acquire(1.0)
            stamps.append(now[0])
        return stamps

    stamps = asyncio.run(take(30))
    assert stamps[:10] == [0.0] * 10  # one second's burst
    assert stamps[-1] == pytest.approx(2.0)  # then exactly 10 a second: 20 more take 2 s
    assert all(b - a == pytest.approx(0.1) for a, b in zip(stamps[10:], stamps[11:]))
    # Tokens per minute: a request larger than the bucket runs once it is full, and its debt delays the next one.
    tokens = TokenBucket(per_minute=60, clock=lambda: now[0], sleep=sleep)  # 1 token/s, holds 1
    start = now[0]
    asyncio.run(tokens.acquire(5.0))
    asyncio.run(tokens.acquire(1.0))
    assert now[0] - start == pytest.approx(5.0)
    tokens.settle(estimated=1.0, actual=3.0)  # the response used more than guessed: 2 more seconds of debt
    before = now[0]
    asyncio.run(tokens.acquire(1.0))
    assert now[0] - before == pytest.approx(3.0)


def test_requests_per_minute_limit_slows_a_real_run(key):
    n, rpm = 25, 600  # 10 requests/s after a burst of 10: at least 1.5 s for 25
    with FaultServer(api_key=KEY) as server:
        free = teacher_for(server, concurrency=n)
        free.generate(prompts(n), LABEL)
        limited = teacher_for(server, concurrency=n, requests_per_minute=rpm)
        limited.load()
        t0 = time.perf_counter()
        limited.generate(prompts(n), LABEL)
        seconds = time.perf_counter() - t0
        free.close()
        limited.close()
    assert free._limits.waits == 0 and limited._limits.waits > 0
    assert server.stats.ok == 2 * n
    # A lower bound only (a loaded machine is slower, never faster): the last of the 15 requests past the burst
    # cannot be sent before 1.5 s at 10 a second.
    assert seconds >= (n - 10) / 10


def test_tokens_per_minute_limit_waits(key):
    with FaultServer(api_key=KEY) as server:
        teacher = teacher_for(server, concurrency=8, tokens_per_minute=60_000)  # 1000 tokens/s
        out = teacher.generate(prompts(12), GenerationParams(max_new_tokens=200))  # ~250 estimated tokens each
        teacher.close()
    assert len(out) == 12 and teacher._limits.waits > 0


def test_generate_is_safe_to_call_repeatedly_after_close_and_inside_an_event_loop(key):
    with FaultServer(api_key=KEY) as server:
        teacher = teacher_for(server, concurrency=4)
        texts = [c.text for _ in range(3) for c in teacher.generate(prompts(3), LABEL)]
        teacher.close()
        again = teacher.generate(prompts(3), LABEL)  # reloads on demand

        async def from_async_code():
            return teacher.generate(prompts(3), LABEL)  # Jupyter: a loop already runs in this thread

        inside = asyncio.run(from_async_code())
        assert teacher.generate([], LABEL) == []
        teacher.close()
    assert texts == ["positive", "negative", "neutral"] * 3
    assert [c.text for c in again] == [c.text for c in inside] == texts[:3]
    assert server.stats.ok == 15


def test_cost_from_prices_and_by_role():
    teacher = OpenAITeacher(model="m", price_per_million_prompt_tokens=0.15, price_per_million_completion_tokens=0.6)
    assert teacher.cost_usd(1_000_000, 0) == pytest.approx(0.15)
    assert teacher.cost_usd(2_000, 1_000) == pytest.approx(0.0003 + 0.0006)
    summary = {"prompt_tokens_by_role": {"teacher": 1000, "verifier": 3000, "augmenter": 500},
               "completion_tokens_by_role": {"teacher": 100, "verifier": 300, "augmenter": 50}}
    local = tiny_teacher()  # local weights cost no money per query
    cost = run_cost(summary, {"teacher": teacher, "verifier": teacher, "augmenter": local})
    assert cost["cost_usd_by_role"] == pytest.approx({"teacher": 0.00021, "verifier": 0.00063, "augmenter": 0.0})
    assert cost["cost_usd"] == pytest.approx(0.00084)


def test_prices_only_where_they_are_known():
    # The shipped list price applies to the model on its provider's API, nowhere else.
    hosted = OpenAITeacher(model="gpt-4o-mini")
    assert hosted.cost_usd(1_000_000, 1_000_000) == pytest.approx(0.75)
    local = OpenAITeacher(model="gpt-4o-mini", base_url="http://127.0.0.1:8000/v1")
    unknown = OpenAITeacher(model="my-model")
    assert local.cost_usd(1000, 100) is None and unknown.cost_usd(1000, 100) is None
    summary = {"prompt_tokens_by_role": {"teacher": 1000, "verifier": 0, "augmenter": 500},
               "completion_tokens_by_role": {"teacher": 100, "verifier": 0, "augmenter": 50}}
    cost = run_cost(summary, {"teacher": local, "verifier": local, "augmenter": hosted})
    # Unknown where tokens were spent at an unknown price; a role that spent nothing cost nothing.
    assert cost["cost_usd"] is None and cost["cost_usd_by_role"]["teacher"] is None
    assert cost["cost_usd_by_role"]["verifier"] == 0.0 and cost["cost_usd_by_role"]["augmenter"] > 0
    priced = OpenAITeacher(model="my-model", base_url="http://127.0.0.1:8000/v1",
                           price_per_million_prompt_tokens=1.0, price_per_million_completion_tokens=2.0)
    assert priced.cost_usd(1_000_000, 1_000_000) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="set both"):
        OpenAITeacher(model="m", price_per_million_prompt_tokens=1.0)


@pytest.mark.parametrize("bad, message", [
    (dict(base_url="ftp://x"), "base_url"), (dict(concurrency=0), "concurrency"), (dict(timeout=0), "timeout"),
    (dict(max_tokens_field="max_new"), "max_completion_tokens"), (dict(requests_per_minute=0), "requests_per_minute"),
    (dict(price_per_million_prompt_tokens=-1, price_per_million_completion_tokens=0),
     "price_per_million_prompt_tokens must be a number >= 0"),
    (dict(max_retries=-1), "max_retries"),
])
def test_bad_settings_fail_at_construction(bad, message):
    with pytest.raises(ValueError, match=message):
        OpenAITeacher(model="m", **bad)


def test_redact():
    assert redact("key sk-1 and sk-1 again", "sk-1") == "key [REDACTED] and [REDACTED] again"
    assert redact("nothing", None) == "nothing"


def test_answers_that_arrived_before_a_failure_are_kept_in_the_cache(tmp_path, key):
    """One query exhausts its retries: the rest of its batch was paid for, so the cache keeps it and a rerun pays
    only for the failed one."""
    from sgen.budget.cache import QueryCache

    prompts_ = prompts(4)
    poison = prompts_[2][-1]["content"]
    with FaultServer(api_key=KEY, fail_content=poison) as server:
        teacher = teacher_for(server, concurrency=4, backoff_base=0.0, max_retries=1)
        cache = QueryCache(tmp_path / "q.sqlite")
        metered = MeteredTeacher(teacher, QueryLedger(budget=10), role="teacher", batch_size=4, cache=cache)
        with pytest.raises(TeacherRequestError):
            metered.ask(prompts_, LABEL, purpose="label")
        assert cache.stats["generated"] == 3
        server.fail_content = None
        ledger = QueryLedger(budget=10)
        rerun = MeteredTeacher(teacher, ledger, role="teacher", batch_size=4, cache=cache)
        records = rerun.ask(prompts_, LABEL, purpose="label")
        teacher.close()
        cache.close()
    assert [r.cached for r in records] == [True, True, False, True]
    assert ledger.summary()["queries_paid"] == 1


def test_each_answer_is_committed_as_its_request_completes(tmp_path, key):
    """Served answers reach the query cache one by one, on the caller's thread (the SQLite connection's), not at the
    end of the call: a kill mid-call loses only the requests in flight."""
    import threading

    from sgen.budget.cache import QueryCache

    with FaultServer(api_key=KEY, latency=0.01) as server:
        teacher = teacher_for(server, concurrency=3)
        cache = QueryCache(tmp_path / "q.sqlite")
        commits = []
        put_many = cache.put_many

        def recording_put_many(model_id, answers):
            commits.append((threading.get_ident(), len(answers), cache.count()))
            return put_many(model_id, answers)

        cache.put_many = recording_put_many
        metered = MeteredTeacher(teacher, QueryLedger(budget=10), role="teacher", batch_size=6, cache=cache)
        records = metered.ask(prompts(6), LABEL, purpose="label")
        teacher.close()
        cache.close()
    assert len(records) == 6 and server.stats.ok == 6
    assert [n for _, n, _ in commits] == [1] * 6  # one commit per answer ...
    assert [stored for _, _, stored in commits] == list(range(6))  # ... each stored before the next arrives
    assert {thread for thread, _, _ in commits} == {threading.get_ident()}


def test_a_request_slot_stays_taken_until_its_answer_is_committed(key):
    """A kill loses at most `concurrency` paid answers: while the caller is still committing one answer (a slow
    on_result here), no more than `concurrency` answers are ever paid and not yet committed."""
    concurrency, committed, worst = 3, [], [0]
    with FaultServer(api_key=KEY) as server:
        teacher = teacher_for(server, concurrency=concurrency, **FAST_RETRIES)

        def on_result(i, completion):
            worst[0] = max(worst[0], server.stats.ok - len(committed))
            time.sleep(0.05)  # a slow commit (a busy disk, a loaded machine)
            committed.append(i)

        out = teacher.generate(prompts(24), LABEL, on_result=on_result)
        teacher.close()
    assert sorted(committed) == list(range(24)) and all(c.text for c in out)
    assert server.stats.ok == 24 and 1 <= worst[0] <= concurrency
