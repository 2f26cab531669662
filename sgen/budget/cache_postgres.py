"""The query cache on PostgreSQL (`cache.url=postgresql://...` or SGEN_CACHE_URL): one store for a sweep on many nodes.

Same tables, same claim protocol as the SQLite store (sgen/budget/cache.py); what differs:
- Claims are serialised by a transaction-scoped advisory lock, the equivalent of SQLite's BEGIN IMMEDIATE: two
  claimers never both read "unclaimed" and both insert, and a killed claimer's lock goes with its session.
- Leases run on the server's clock, so hosts whose clocks disagree still agree on when a claim expired.
- Answers are stored as UTF-8 bytes (BYTEA): a PostgreSQL TEXT cannot hold a NUL character, which a model can emit,
  and an answer that cannot be stored would be paid and lost.
- A commit returns once the server has flushed its WAL (synchronous_commit=on, PostgreSQL's default), so a value is
  durable before it is booked.
Client: psycopg 3. The store is a handful of hand-written statements shared with SQLite; psycopg runs them directly,
ships a binary wheel (psycopg[binary], no libpq build), and is the driver SQLAlchemy uses for Optuna's storage on the
same server (`postgresql+psycopg://`), so one package serves both. An ORM would add a layer and hide the locking.
"""
from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sgen.budget.cache import SCHEMA_VERSION, QueryStore
from sgen.records import Completion
from sgen.redact import redact_url

log = logging.getLogger(__name__)

# One lock id for every sgen claim transaction on the server (advisory locks are per database).
_CLAIM_LOCK = zlib.crc32(b"sgen-query-claims")
_SCHEMA_LOCK = zlib.crc32(b"sgen-query-schema")
_SCHEMES = ("postgresql://", "postgres://")

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS queries (
        key TEXT PRIMARY KEY,
        model_id TEXT NOT NULL,
        text BYTEA NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        created DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS claims (
        key TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        pid_start TEXT NOT NULL,
        expires DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS claims_owner ON claims (owner)",
    "CREATE TABLE IF NOT EXISTS sgen_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
]


def libpq_url(url: str) -> str:
    """A URL libpq accepts: SQLAlchemy's `postgresql+psycopg://` spelling is accepted too (the same server as an
    Optuna storage); anything else is refused with the spelling to use."""
    scheme, sep, rest = url.partition("://")
    base = scheme.split("+", 1)[0]
    if not sep or f"{base}://" not in _SCHEMES:
        raise ValueError(f"cache.url={redact_url(url)!r} is not a PostgreSQL URL; use postgresql://user@host:port/db "
                         "(password in PGPASSWORD, ~/.pgpass or SGEN_CACHE_URL), or unset it for the SQLite cache")
    return f"postgresql://{rest}"


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _decode(stored: bytes) -> str:
    return bytes(stored).decode("utf-8", "surrogatepass")


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:
        raise ValueError("cache.url names a PostgreSQL server, but psycopg is not installed; "
                         "pip install 'sgen[postgres]' (psycopg[binary])") from exc
    return psycopg


class PostgresQueryCache(QueryStore):
    """The query cache on a PostgreSQL server, shared by every job of a sweep on every node."""

    def __init__(self, url: str, lease_seconds: float = 600.0, poll_seconds: float = 0.05,
                 connect_timeout_s: int = 10, read_only: bool = False, host: str | None = None) -> None:
        super().__init__(lease_seconds, poll_seconds, host)
        self.url = libpq_url(url)
        self.connect_timeout_s = int(connect_timeout_s)
        self.read_only = read_only  # a plan reads the store and must not change it (no schema, no claims)
        self._tables = True
        self._inherited: list[Any] = []  # a forked child's copy of the parent's connection: never used, never closed
        self._connect()  # fail now, before any query, if the server cannot be reached

    def describe(self) -> str:
        return redact_url(self.url)

    def _connect(self) -> Any:
        if self._conn is not None and self._conn_pid != os.getpid():
            # Closing the parent's connection from a child would end the parent's session on the shared socket.
            self._inherited.append(self._conn)
            self._conn = None
        return super()._connect()

    def _open(self) -> Any:
        psycopg = _psycopg()
        extra = {"options": "-c default_transaction_read_only=on"} if self.read_only else {}
        try:
            # prepare_threshold=None: no server-side prepared statements. Their generic plans for these array
            # statements ran 2-3x slower than planning each call (measured: a claim 8.2 ms vs 3.2 ms), and a
            # transaction-pooling PgBouncer, common in front of a cluster's database, cannot hold them anyway.
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout_s,
                                   application_name=f"sgen {self.host}:{self._conn_pid}", prepare_threshold=None,
                                   **extra)
        except psycopg.OperationalError as exc:
            reason = " ".join(str(exc).split())
            raise ValueError(f"cannot reach the query cache at {self.describe()}: {reason}; check cache.url / "
                             "SGEN_CACHE_URL, that the server runs, and the password (PGPASSWORD or ~/.pgpass)"
                             ) from None
        if self.read_only:
            self._tables = bool(conn.execute("SELECT to_regclass('queries') IS NOT NULL").fetchone()[0])
            return conn
        with conn.transaction():
            # Two jobs starting at once both run CREATE IF NOT EXISTS: serialise them (it can race on the catalog).
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("INSERT INTO sgen_meta (name, value) VALUES ('schema_version', %s) "
                         "ON CONFLICT (name) DO NOTHING", (str(SCHEMA_VERSION),))
            found = conn.execute("SELECT value FROM sgen_meta WHERE name = 'schema_version'").fetchone()[0]
        self._check_schema_version(int(found))
        return conn

    def _text(self, stored: Any) -> str:
        return _decode(stored)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def _now(self, conn: Any) -> float:
        return float(conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0])

    @contextmanager
    def _transaction(self, conn: Any, exclusive: bool = False) -> Iterator[None]:
        # Pipeline mode: statements whose results are not read yet (BEGIN, the lock, an INSERT, COMMIT) travel with
        # the next one that is, so a commit of answers is one round trip and a claim three, not one per statement.
        with conn.pipeline(), conn.transaction():
            if exclusive:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_CLAIM_LOCK,))
            yield

    # One statement per call, keys as an array, joined with unnest: primary-key lookups whatever the table's
    # statistics (a fresh database has none until autovacuum runs, and `key = ANY(...)` then scanned the table).
    def _rows_in(self, columns: str, table: str, keys: list[str]) -> list[tuple]:
        cols = ", ".join(f"t.{c.strip()}" for c in columns.split(","))
        return self._connect().execute(f"SELECT {cols} FROM unnest(%s::text[]) AS u(key) JOIN {table} t USING (key)",
                                       (keys,)).fetchall()

    def _insert_answers(self, model_id: str, values: dict[str, Completion]) -> None:
        if values:  # `created` on the server's clock, like the leases: no round trip to read it first
            self._connect().execute(
                "INSERT INTO queries (key, model_id, text, prompt_tokens, completion_tokens, created) "
                "SELECT k, %s, t, p, c, extract(epoch FROM clock_timestamp()) "
                "FROM unnest(%s::text[], %s::bytea[], %s::int[], %s::int[]) AS u(k, t, p, c) "
                "ON CONFLICT (key) DO NOTHING",
                (model_id, list(values), [_encode(c.text) for c in values.values()],
                 [c.prompt_tokens for c in values.values()], [c.completion_tokens for c in values.values()]))

    def _upsert_claims(self, keys: list[str], expires: float) -> None:
        if keys:
            self._connect().execute(
                "INSERT INTO claims (key, owner, host, pid, pid_start, expires) "
                "SELECT k, %s, %s, %s, %s, %s FROM unnest(%s::text[]) AS u(k) "
                "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, host = excluded.host, pid = excluded.pid, "
                "pid_start = excluded.pid_start, expires = excluded.expires",
                (self._owner, self.host, self._conn_pid, self._pid_start, expires, keys))

    def _delete_claims(self, keys: list[str], mine_only: bool = False) -> None:
        if keys:
            mine = " AND c.owner = %s" if mine_only else ""
            self._connect().execute(
                f"DELETE FROM claims c USING unnest(%s::text[]) AS u(key) WHERE c.key = u.key{mine}",
                (keys, self._owner) if mine_only else (keys,))

    def get_many(self, keys):
        if not self._tables:  # read-only view of a database no run has written yet
            return {}
        return super().get_many(keys)

    def count(self) -> int:
        return super().count() if self._tables else 0

    def close(self) -> None:
        if self.read_only:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            return
        super().close()
