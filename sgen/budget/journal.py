"""An append-only JSONL journal of every query, flushed and fsynced per batch, so a crash loses nothing paid for."""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from sgen.records import QueryRecord


class QueryJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "a", encoding="utf-8")

    def append(self, records: list[QueryRecord]) -> None:
        for record in records:
            self._file.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
