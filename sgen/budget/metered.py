"""Every call to a teacher backend goes through MeteredTeacher, which checks the budget first and books each query."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence

from tqdm.auto import tqdm

from sgen.budget.journal import QueryJournal
from sgen.budget.ledger import QueryLedger
from sgen.records import GenerationParams, Messages, QueryRecord
from sgen.teachers.base import Teacher

log = logging.getLogger(__name__)


class GenerationProgress:
    """One progress bar over the whole budget: queries used, tokens/s and ETA."""

    def __init__(self, ledger: QueryLedger, enabled: bool = True) -> None:
        self._bar = tqdm(total=ledger.budget, desc="teacher queries", unit="q", disable=not enabled, dynamic_ncols=True)
        self._t0 = time.perf_counter()
        self._tokens = 0

    def update(self, n_queries: int, n_tokens: int) -> None:
        self._tokens += n_tokens
        rate = self._tokens / max(time.perf_counter() - self._t0, 1e-9)
        self._bar.set_postfix_str(f"{rate:.1f} tok/s", refresh=False)
        self._bar.update(n_queries)

    def close(self) -> None:
        self._bar.close()


def query_seed(model_id: str, params: GenerationParams, prompts: Sequence[Messages], sample_indices: Sequence[int]) -> int:
    """A sampling seed that depends only on what is asked, so reruns draw the same samples."""
    blob = json.dumps([model_id, params.__dict__, list(prompts), list(sample_indices)], sort_keys=True)
    return int.from_bytes(hashlib.sha256(blob.encode()).digest()[:4], "little")


class MeteredTeacher:
    """A teacher backend acting in one role (teacher, augmenter or verifier), booked against a shared ledger."""

    def __init__(
        self,
        backend: Teacher,
        ledger: QueryLedger,
        role: str,
        progress: GenerationProgress | None = None,
        batch_size: int = 32,
        journal: QueryJournal | None = None,
    ) -> None:
        self.backend = backend
        self.ledger = ledger
        self.role = role
        self.progress = progress
        self.batch_size = batch_size
        self.journal = journal

    def ask(
        self,
        prompts: Sequence[Messages],
        params: GenerationParams,
        purpose: str,
        sample_indices: Sequence[int] | None = None,
    ) -> list[QueryRecord]:
        """Run one query per prompt. Callers plan within the budget; asking for more raises BudgetExceeded."""
        self.ledger.reserve(len(prompts))
        sample_indices = list(sample_indices) if sample_indices is not None else [0] * len(prompts)
        records: list[QueryRecord] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = list(prompts[start : start + self.batch_size])
            samples = sample_indices[start : start + self.batch_size]
            seed = query_seed(self.backend.model_id, params, batch, samples)
            completions = self.backend.generate(batch, params, seed=seed)
            booked = []
            for prompt, completion in zip(batch, completions, strict=True):
                record = QueryRecord(
                    query_id=self.ledger.used,
                    role=self.role,
                    purpose=purpose,
                    prompt=prompt,
                    text=completion.text,
                    prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens,
                )
                self.ledger.record(record)
                booked.append(record)
            if self.journal is not None:
                self.journal.append(booked)
            records.extend(booked)
            if self.progress is not None:
                self.progress.update(len(batch), sum(c.completion_tokens for c in completions))
        return records
