"""Building blocks for the query-cache tests: a tiny real teacher, prompts, and a worker for multi-process tests."""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from sgen.budget import MeteredTeacher, QueryCache, QueryLedger, QueryStore
from sgen.records import Completion, GenerationParams, Messages
from sgen.teachers.base import Teacher

PARAMS = GenerationParams(max_new_tokens=6, temperature=1.0)


def prompts(n: int, offset: int = 0) -> list[Messages]:
    return [[{"role": "user", "content": f"classify the text into one of the labels: item {i}"}]
            for i in range(offset, offset + n)]


class SlowTeacher(Teacher):
    """A real backend with the latency of a served model, so concurrent jobs really overlap in time."""

    def __init__(self, inner: Teacher, seconds_per_call: float) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.seconds_per_call = seconds_per_call
        self.calls: list[int] = []

    def generate(self, prompts: Sequence[Messages], params: GenerationParams,
                 seeds: Sequence[int] | None = None, on_result=None) -> list[Completion]:
        time.sleep(self.seconds_per_call)
        self.calls.append(len(prompts))
        return self.inner.generate(prompts, params, seeds=seeds, on_result=on_result)


def open_cache(spec: dict, **kwargs) -> QueryStore:
    """A query cache from a store spec: {"path": sqlite file} or {"url": postgresql://...} (see the `store` fixture)."""
    kwargs.setdefault("poll_seconds", 0.01)
    if "url" in spec:
        from sgen.budget.cache_postgres import PostgresQueryCache

        return PostgresQueryCache(spec["url"], **kwargs)
    return QueryCache(Path(spec["path"]), **kwargs)


def ask_in_process(spec: dict, n: int, reverse: bool, barrier, host: str | None = None) -> dict:
    """One 'job' (run in a child process): ask n queries through a shared cache and report what it paid."""
    from sgen.teachers.hf import tiny_teacher

    backend = SlowTeacher(tiny_teacher(batch_size=8), seconds_per_call=0.05)
    backend.inner.load()
    ledger = QueryLedger(n)
    cache = open_cache(spec, host=host)
    meter = MeteredTeacher(backend, ledger, "teacher", batch_size=4, cache=cache)
    order = list(range(n))[::-1] if reverse else list(range(n))
    barrier.wait()  # both jobs start asking at the same moment
    records = meter.ask([prompts(n)[i] for i in order], PARAMS, "label")
    stats = dict(cache.stats)
    cache.close()
    texts = {i: r.text for i, r in zip(order, records, strict=True)}
    return {"paid": ledger.summary()["queries_paid"], "cached": ledger.cached, "texts": texts, "stats": stats,
            "generated": sum(backend.calls)}
