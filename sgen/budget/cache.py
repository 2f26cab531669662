"""The teacher query cache: every distinct query is paid once, by any run of any sweep, and survives a crash.

Two stores behind one interface. SQLite (the default): one file in WAL mode, shared by every process on one
machine; it must live on a local filesystem. PostgreSQL (`cache.url=postgresql://...`, sgen/budget/cache_postgres.py):
one server shared by the jobs of a sweep on every node of a cluster.

A query's key hashes what changes its answer (the model, the generation parameters, the prompt, the sample index) and
nothing else: batch size, device, role and run directory are left out, so a 1k-query run reuses the first 1k queries
of a 10k run.

Two jobs that need the same missing queries must not both pay for them. Before generating, a job claims the keys it
will generate (one short transaction that no other claimer interleaves with); a job that meets a live claim waits for
the value instead. A claim is taken over when its owner process is dead (same host) or its lease expired (any host),
so a killed job never blocks others. A value is committed (fsynced) before the caller books it as spent.
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
from typing import Any

from sgen.records import Completion, GenerationParams, Messages

log = logging.getLogger(__name__)

KEY_VERSION = "sgen-query-v1"  # bump when the key's meaning changes, so old entries are never misread
# Bump when the tables change; a store written by a newer sgen is refused rather than misread.
SCHEMA_VERSION = 1
_IN_CHUNK = 500  # keys per `IN (...)`: under SQLite's bound-parameter limit (PostgreSQL sends one array instead)


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


def process_start(pid: int) -> str:
    try:
        return _stat_fields(pid)[1]
    except OSError:
        return ""


def process_alive(pid: int, pid_start: str) -> bool:
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


class QueryStore:
    """Completed teacher queries by key, plus short-lived claims on keys being generated right now.

    The logic (claims, leases, takeover, waiting) lives here once; a store supplies a connection per process, an
    exclusive transaction for claims, its clock and its SQL placeholder. Statements are written with `?`."""

    def __init__(self, lease_seconds: float = 600.0, poll_seconds: float = 0.05, host: str | None = None) -> None:
        if lease_seconds <= 0:
            raise ValueError(f"cache.lease_seconds must be > 0, got {lease_seconds}")
        self.lease_seconds = float(lease_seconds)
        self.poll_seconds = float(poll_seconds)
        self.host = host or socket.gethostname()  # tests pass a name to act as another host
        self._conn: Any = None
        self._conn_pid = -1
        self._owner = ""
        self._pid_start = ""
        self.stats = {"generated": 0, "waited": 0, "taken_over": 0}  # this process, for logs and tests

    # -- what a store supplies ----------------------------------------------------------------------------------
    def _open(self) -> Any:
        raise NotImplementedError

    @contextmanager
    def _transaction(self, conn: Any, exclusive: bool = False) -> Iterator[None]:
        raise NotImplementedError
        yield

    def _now(self, conn: Any) -> float:
        return time.time()

    def _sql(self, statement: str) -> str:
        return statement

    def _text(self, stored: Any) -> str:
        """An answer's text as the store returns it."""
        return stored

    def describe(self) -> str:
        """Where the store is, safe to log (no password)."""
        raise NotImplementedError

    # -- connection ---------------------------------------------------------------------------------------------
    def _connect(self) -> Any:
        """One connection per process: a forked child opens its own and claims under its own pid."""
        if self._conn is not None and self._conn_pid == os.getpid():
            return self._conn
        self._conn_pid = os.getpid()
        self._pid_start = process_start(self._conn_pid)
        self._owner = f"{self.host}:{self._conn_pid}:{uuid.uuid4().hex[:12]}"
        self._conn = self._open()
        return self._conn

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self._connect().execute(self._sql(statement), tuple(params))

    def _executemany(self, statement: str, rows: list[tuple]) -> None:
        if rows:
            self._connect().cursor().executemany(self._sql(statement), rows)

    # Bulk statements, one row per key; a store may send them as one statement instead (PostgreSQL: arrays).
    def _insert_answers(self, model_id: str, values: dict[str, Completion]) -> None:
        now = time.time()
        self._executemany(
            "INSERT INTO queries (key, model_id, text, prompt_tokens, completion_tokens, created) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            [(k, model_id, c.text, c.prompt_tokens, c.completion_tokens, now) for k, c in values.items()])

    def _upsert_claims(self, keys: list[str], expires: float) -> None:
        self._executemany(
            "INSERT INTO claims (key, owner, host, pid, pid_start, expires) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, host = excluded.host, pid = excluded.pid, "
            "pid_start = excluded.pid_start, expires = excluded.expires",
            [(k, self._owner, self.host, self._conn_pid, self._pid_start, expires) for k in keys])

    def _delete_claims(self, keys: list[str], mine_only: bool = False) -> None:
        if mine_only:
            self._executemany("DELETE FROM claims WHERE key = ? AND owner = ?", [(k, self._owner) for k in keys])
        else:
            self._executemany("DELETE FROM claims WHERE key = ?", [(k,) for k in keys])

    def _check_schema_version(self, found: int | None) -> None:
        if found is not None and found > SCHEMA_VERSION:
            raise ValueError(f"the query cache at {self.describe()} has schema version {found}, but this sgen "
                             f"knows only version {SCHEMA_VERSION}; upgrade sgen, or point cache.path / cache.url "
                             "at another store")

    def close(self) -> None:
        """Drop any claim this process still holds, then close. A store that went away meanwhile is logged, not
        raised: the run's own error (if any) stays the one reported, and the claims expire with their lease."""
        if self._conn is not None and self._conn_pid == os.getpid():
            conn = self._conn
            try:
                with self._transaction(conn):
                    self._execute("DELETE FROM claims WHERE owner = ?", (self._owner,))
                conn.close()
            except Exception as exc:  # sqlite3.Error, psycopg.Error: the stores share no base class
                log.warning("query cache %s: could not release this job's claims on close (%s); they expire "
                            "with their lease", self.describe(), " ".join(str(exc).split()))
        self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- values -------------------------------------------------------------------------------------------------
    def _rows_in(self, columns: str, table: str, keys: list[str]) -> list[tuple]:
        rows: list[tuple] = []
        for start in range(0, len(keys), _IN_CHUNK):
            part = keys[start : start + _IN_CHUNK]
            rows += self._execute(f"SELECT {columns} FROM {table} WHERE key IN ({','.join('?' * len(part))})",
                                  part).fetchall()
        return rows

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        keys = list(dict.fromkeys(keys))
        rows = self._rows_in("key, text, prompt_tokens, completion_tokens", "queries", keys)
        return {k: Completion(self._text(text), pt, ct) for k, text, pt, ct in rows}

    def put_many(self, model_id: str, values: dict[str, Completion]) -> dict[str, Completion]:
        """Commit generated answers and release their claims in one transaction. Returns the stored values: if a
        taken-over owner committed first, its answer stays canonical so every run sees the same text."""
        conn = self._connect()
        # Exclusive like a claim: a claimer reads values, then claims, in two statements; a commit landing between
        # them (value in, claim out) would look unanswered and unclaimed, and be paid twice.
        with self._transaction(conn, exclusive=True):
            self._insert_answers(model_id, values)
            self._delete_claims(list(values))
        self.stats["generated"] += len(values)
        return self.get_many(values)

    def count(self) -> int:
        return self._execute("SELECT COUNT(*) FROM queries").fetchone()[0]

    def claim_count(self) -> int:
        return self._execute("SELECT COUNT(*) FROM claims").fetchone()[0]

    # -- claims -------------------------------------------------------------------------------------------------
    def claim(self, keys: Sequence[str]) -> tuple[list[str], list[str]]:
        """Claim the keys that have no value and no live claim. Returns (claimed by us, held by a live claim)."""
        conn = self._connect()
        keys = list(dict.fromkeys(keys))
        mine, others, stale_owners = [], [], set()
        with self._transaction(conn, exclusive=True):
            now = self._now(conn)
            answered = {row[0] for row in self._rows_in("key", "queries", keys)}  # answered since the caller looked
            held = {row[0]: row for row in self._rows_in("key, owner, host, pid, pid_start, expires", "claims", keys)}
            for key in keys:
                if key in answered:
                    continue
                row = held.get(key)
                if row is not None and row[1] != self._owner:
                    if self._live(row[1:], now):
                        others.append(key)
                        continue
                    self.stats["taken_over"] += 1
                    stale_owners.add(row[1])
                mine.append(key)
            self._upsert_claims(mine, now + self.lease_seconds)
        if stale_owners:
            log.info("took over claims of %s (owner dead or lease expired)", ", ".join(sorted(stale_owners)))
        return mine, others

    def release(self, keys: Iterable[str]) -> None:
        """Give up our claims (generation failed), so another job can take the keys at once."""
        conn = self._connect()
        with self._transaction(conn, exclusive=True):
            self._delete_claims(list(keys), mine_only=True)

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
        now = self._now(conn)
        held = {row[0]: row for row in self._rows_in("key, owner, host, pid, pid_start, expires", "claims",
                                                     list(dict.fromkeys(keys)))}
        return any(key not in held or not self._live(held[key][1:], now) for key in keys)

    def _live(self, row: tuple, now: float) -> bool:
        _owner, host, pid, pid_start, expires = row
        if expires < now:
            return False
        return host != self.host or process_alive(int(pid), pid_start)


_SQLITE_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS sgen_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class QueryCache(QueryStore):
    """The query cache in one SQLite file (WAL), for the processes of one machine."""

    def __init__(self, path: Path | str, lease_seconds: float = 600.0, poll_seconds: float = 0.05,
                 busy_timeout_ms: int = 60_000, host: str | None = None) -> None:
        super().__init__(lease_seconds, poll_seconds, host)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.busy_timeout_ms = int(busy_timeout_ms)
        self._connect()  # fail now, before any query, if the file cannot be opened

    def describe(self) -> str:
        return str(self.path)

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so every transaction is short and explicit.
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            log.warning("query cache %s runs in %s mode, not WAL (network filesystem?)", self.path, mode)
        conn.execute("PRAGMA synchronous=FULL")  # a committed answer survives a power cut, not only a kill -9
        conn.executescript(_SQLITE_SCHEMA)
        # Files from before the version row are version 1: the same two tables.
        conn.execute("INSERT OR IGNORE INTO sgen_meta (name, value) VALUES ('schema_version', ?)",
                     (str(SCHEMA_VERSION),))
        found = conn.execute("SELECT value FROM sgen_meta WHERE name = 'schema_version'").fetchone()[0]
        self._check_schema_version(int(found))
        return conn

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection, exclusive: bool = False) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front: two claimers never both read "unclaimed" and both insert.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def sqlite_path(cfg, default_dir: Path) -> Path:
    """The SQLite cache file a `cache:` config names: cache.path, else queries.sqlite in the sgen cache folder."""
    return Path(cfg.get("path") or default_dir / "queries.sqlite").expanduser()


def open_query_cache(cfg, default_dir: Path) -> QueryStore | None:
    """The cache a run uses, from its `cache:` config block; None when caching is switched off."""
    if cfg is None or not cfg.get("enabled", True):
        return None
    lease = float(cfg.get("lease_seconds", 600))
    url = cfg.get("url")
    if url:
        from sgen.budget.cache_postgres import PostgresQueryCache

        cache: QueryStore = PostgresQueryCache(str(url), lease_seconds=lease)
    else:
        cache = QueryCache(sqlite_path(cfg, default_dir), lease_seconds=lease)
    log.info("teacher query cache %s (%d answers stored)", cache.describe(), cache.count())
    return cache
