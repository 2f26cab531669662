"""queries.jsonl: the human-readable log of every query a run booked, in ledger order, with its prompt and answer.

The query cache, not this file, is what makes generation crash-safe: a rerun after a crash replays the run from the
cache, so each attempt rewrites the journal from the start and the last attempt's journal is complete. Lines are
still flushed and fsynced per chunk, so a crashed attempt leaves a readable record of how far it got (and, with the
cache switched off, the only record of what it paid for).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from sgen.records import QueryRecord


class QueryJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "w", encoding="utf-8")

    def append(self, records: list[QueryRecord]) -> None:
        for record in records:
            self._file.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
