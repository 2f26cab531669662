"""The query cache as a plan sees it: the real cache, read only, plus what earlier jobs of the plan would pay.

MeteredTeacher runs unchanged against this view: it looks keys up, claims the missing ones (always granted: no
other job runs during a plan), has the backend answer them and stores the answers. Nothing reaches the SQLite file:
it is opened read-only and never claimed or leased, so a plan leaves the cache exactly as it found it. The same holds
for a PostgreSQL cache (cache.url), read in a read-only session.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from sgen.records import Completion

log = logging.getLogger(__name__)


class StoredAnswers:
    """Read-only lookups in a query cache file; an absent file is an empty cache."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        if path.exists():
            # mode=ro: no schema, no WAL switch, no claims; a plan must not change the file.
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        if self._conn is None:
            return {}
        keys = list(dict.fromkeys(keys))
        found: dict[str, Completion] = {}
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            part = keys[start : start + 500]
            rows = self._conn.execute("SELECT key, text, prompt_tokens, completion_tokens FROM queries "
                                      f"WHERE key IN ({','.join('?' * len(part))})", part).fetchall()
            found.update({k: Completion(text, pt, ct) for k, text, pt, ct in rows})
        return found

    def count(self) -> int:
        if self._conn is None:
            return 0
        return self._conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def stored_answers(url: str):
    """Read-only lookups in a PostgreSQL query cache: a read-only session, no schema, no claims."""
    from sgen.budget.cache_postgres import PostgresQueryCache

    return PostgresQueryCache(url, read_only=True)


class PlannedCache:
    """The QueryCache interface MeteredTeacher uses, over stored answers plus this plan's simulated payments."""

    def __init__(self, stored: StoredAnswers) -> None:
        self.stored = stored
        self.planned: dict[str, Completion] = {}  # keys an earlier job of the plan pays for
        self.stored_hits = 0  # lookups the real cache answered (the ledger books them as cached)

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        keys = list(keys)
        found = {k: self.planned[k] for k in keys if k in self.planned}
        stored = self.stored.get_many([k for k in keys if k not in found])
        self.stored_hits += sum(k in stored for k in keys)
        return {**found, **stored}

    def claim(self, keys: Sequence[str]) -> tuple[list[str], list[str]]:
        return list(dict.fromkeys(keys)), []

    def put_many(self, model_id: str, values: dict[str, Completion]) -> dict[str, Completion]:
        self.planned.update(values)
        return dict(values)

    def release(self, keys: Iterable[str]) -> None:
        return None

    def wait(self, keys: Sequence[str]) -> dict[str, Completion]:  # nothing else runs during a plan
        return self.get_many(keys)

    def count(self) -> int:
        return self.stored.count() + len(self.planned)

    def close(self) -> None:  # the plan closes the stored answers once, after its last job
        return None
