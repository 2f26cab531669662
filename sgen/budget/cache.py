"""The teacher query cache: every distinct query is paid once, by any run of any sweep, and survives a crash.

One SQLite file in WAL mode, shared by every process on the machine. A query's key hashes what changes its answer
(the model, the generation parameters, the prompt, the sample index) and nothing else: batch size, device, role and
run directory are left out, so a 1k-query run reuses the first 1k queries of a 10k run.

Two jobs that need the same missing queries must not both pay for them. Before generating, a job claims the keys it
will generate (one short transaction); a job that meets a live claim waits for the value instead. A claim is taken
over when its owner process is dead (same host) or its lease expired (any host), so a killed job never blocks others.
A value is committed (fsynced, synchronous=FULL) before the caller books it as spent.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

from sgen.records import Completion, GenerationParams, Messages

log = logging.getLogger(__name__)

KEY_VERSION = "sgen-query-v1"  # bump when the key's meaning changes, so old entries are never misread

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (
    key TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_start TEXT NOT NULL,
    expires REAL NOT NULL
);
"""


def query_key(model_id: str, params: GenerationParams, prompt: Messages, sample_index: int) -> str:
    """The cache key of one query. Numbers are normalised (1 == 1.0) so equal settings from YAML share a key."""
    canonical_params = {f.name: _number(getattr(params, f.name)) for f in fields(params)}
    blob = json.dumps([KEY_VERSION, model_id, canonical_params, prompt, int(sample_index)],
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _number(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _stat_fields(pid: int) -> tuple[str, str]:
    """State and start time (fields 3 and 22 of /proc/<pid>/stat); the start time tells a reused pid apart."""
    rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return rest[0], rest[19]


def _process_start(pid: int) -> str:
    try:
        return _stat_fields(pid)[1]
    except OSError:
        return ""


def _alive(pid: int, pid_start: str) -> bool:
    """Whether the process that made a claim still runs on this host (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    try:
        state, start = _stat_fields(pid)
    except OSError:
        return True  # no /proc: trust the signal check
    return state not in ("Z", "X") and (not pid_start or start == pid_start)


class QueryCache:
    """Completed teacher queries by key, plus short-lived claims on keys being generated right now."""

    def __init__(self, path: Path | str, lease_seconds: float = 600.0, poll_seconds: float = 0.05,
                 busy_timeout_ms: int = 60_000) -> None:
        if lease_seconds <= 0:
            raise ValueError(f"cache.lease_seconds must be > 0, got {lease_seconds}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lease_seconds = float(lease_seconds)
        self.poll_seconds = float(poll_seconds)
        self.busy_timeout_ms = int(busy_timeout_ms)
        self.host = socket.gethostname()
        self._conn: sqlite3.Connection | None = None
        self._conn_pid = -1
        self._owner = ""
        self.stats = {"generated": 0, "waited": 0, "taken_over": 0}  # this process, for logs and tests
        self._connect()  # fail now, before any query, if the file cannot be opened

    # -- connection ---------------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        """One connection per process: a forked child opens its own and claims under its own pid."""
        if self._conn is not None and self._conn_pid == os.getpid():
            return self._conn
        self._conn_pid = os.getpid()
        self._pid_start = _process_start(self._conn_pid)
        self._owner = f"{self.host}:{self._conn_pid}:{uuid.uuid4().hex[:12]}"
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so every transaction is short and explicit.
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            log.warning("query cache %s runs in %s mode, not WAL (network filesystem?)", self.path, mode)
        conn.execute("PRAGMA synchronous=FULL")  # a committed answer survives a power cut, not only a kill -9
        conn.executescript(_SCHEMA)
        self._conn = conn
        return conn

    def close(self) -> None:
        """Drop any claim this process still holds, then close."""
        if self._conn is not None and self._conn_pid == os.getpid():
            self._conn.execute("DELETE FROM claims WHERE owner = ?", (self._owner,))
            self._conn.close()
        self._conn = None

    def __enter__(self) -> QueryCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- values -------------------------------------------------------------------------------------------------
    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        conn = self._connect()
        keys = list(dict.fromkeys(keys))
        found: dict[str, Completion] = {}
        for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = conn.execute(f"SELECT key, text, prompt_tokens, completion_tokens FROM queries "
                                f"WHERE key IN ({marks})", part).fetchall()
            found.update({k: Completion(text, pt, ct) for k, text, pt, ct in rows})
        return found

    def put_many(self, model_id: str, values: dict[str, Completion]) -> dict[str, Completion]:
        """Commit generated answers and release their claims in one transaction. Returns the stored values: if a
        taken-over owner committed first, its answer stays canonical so every run sees the same text."""
        conn = self._connect()
        now = time.time()
        with self._transaction(conn):
            conn.executemany(
                "INSERT OR IGNORE INTO queries (key, model_id, text, prompt_tokens, completion_tokens, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(k, model_id, c.text, c.prompt_tokens, c.completion_tokens, now) for k, c in values.items()])
            conn.executemany("DELETE FROM claims WHERE key = ?", [(k,) for k in values])
        self.stats["generated"] += len(values)
        return self.get_many(values)

    def count(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM queries").fetchone()[0]

    # -- claims -------------------------------------------------------------------------------------------------
    def claim(self, keys: Sequence[str]) -> tuple[list[str], list[str]]:
        """Claim the keys that have no value and no live claim. Returns (claimed by us, held by a live claim)."""
        conn = self._connect()
        mine, others, stale_owners = [], [], set()
        now = time.time()
        with self._transaction(conn):
            for key in dict.fromkeys(keys):
                if conn.execute("SELECT 1 FROM queries WHERE key = ?", (key,)).fetchone():
                    continue  # answered since the caller looked
                row = conn.execute("SELECT owner, host, pid, pid_start, expires FROM claims WHERE key = ?",
                                   (key,)).fetchone()
                if row is not None and row[0] != self._owner and self._live(row, now):
                    others.append(key)
                    continue
                if row is not None and row[0] != self._owner:
                    self.stats["taken_over"] += 1
                    stale_owners.add(row[0])
                conn.execute("INSERT OR REPLACE INTO claims (key, owner, host, pid, pid_start, expires) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             (key, self._owner, self.host, self._conn_pid, self._pid_start,
                              now + self.lease_seconds))
                mine.append(key)
        if stale_owners:
            log.info("took over claims of %s (owner dead or lease expired)", ", ".join(sorted(stale_owners)))
        return mine, others

    def release(self, keys: Iterable[str]) -> None:
        """Give up our claims (generation failed), so another job can take the keys at once."""
        conn = self._connect()
        with self._transaction(conn):
            conn.executemany("DELETE FROM claims WHERE key = ? AND owner = ?", [(k, self._owner) for k in keys])

    def wait(self, keys: Sequence[str]) -> dict[str, Completion]:
        """Poll until some of the keys get values or lose their live claim; return the values found so far."""
        delay = self.poll_seconds
        while True:
            found = self.get_many(keys)
            if found or self._claimable(keys):
                self.stats["waited"] += len(found)
                return found
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def _claimable(self, keys: Sequence[str]) -> bool:
        conn = self._connect()
        now = time.time()
        for key in keys:
            row = conn.execute("SELECT owner, host, pid, pid_start, expires FROM claims WHERE key = ?",
                               (key,)).fetchone()
            if row is None or not self._live(row, now):
                return True
        return False

    def _live(self, row: tuple, now: float) -> bool:
        _owner, host, pid, pid_start, expires = row
        if expires < now:
            return False
        return host != self.host or _alive(int(pid), pid_start)

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front: two claimers never both read "unclaimed" and both insert.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def open_query_cache(cfg, default_dir: Path) -> QueryCache | None:
    """The cache a run uses, from its `cache:` config block; None when caching is switched off."""
    if cfg is None or not cfg.get("enabled", True):
        return None
    path = Path(cfg.get("path") or default_dir / "queries.sqlite").expanduser()
    cache = QueryCache(path, lease_seconds=float(cfg.get("lease_seconds", 600)))
    log.info("teacher query cache %s (%d answers stored)", path, cache.count())
    return cache
