"""Every call to a teacher backend goes through MeteredTeacher, which checks the budget first and books each query."""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

from tqdm.auto import tqdm

from sgen.budget.cache import QueryCache, query_key
from sgen.budget.journal import QueryJournal
from sgen.budget.ledger import QueryLedger
from sgen.records import NOT_SENT, Completion, GenerationParams, Messages, QueryRecord
from sgen.teachers.base import Teacher, partial_completions, seed_from_key

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


class MeteredTeacher:
    """A teacher backend acting in one role (teacher, augmenter or verifier), booked against a shared ledger.

    With a QueryCache, each chunk is looked up first: answers already stored (by this run before a crash, by another
    job of the sweep, by an earlier sweep) are booked as cached; the rest are generated, committed to the cache, and
    only then booked as paid. Both count against the run's budget: the budget is the experiment's design, the cache
    only decides who pays.
    """

    def __init__(
        self,
        backend: Teacher,
        ledger: QueryLedger,
        role: str,
        progress: GenerationProgress | None = None,
        batch_size: int = 32,
        journal: QueryJournal | None = None,
        cache: QueryCache | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"query_batch_size must be >= 1, got {batch_size}")
        self.backend = backend
        self.ledger = ledger
        self.role = role
        self.progress = progress
        self.batch_size = batch_size
        self.journal = journal
        self.cache = cache
        # Answers (and their tokens) of the current chunk the progress bar already counted as they arrived.
        self._shown, self._shown_tokens = 0, 0

    def ask(
        self,
        prompts: Sequence[Messages],
        params: GenerationParams,
        purpose: str,
        sample_indices: Sequence[int] | None = None,
    ) -> list[QueryRecord]:
        """Run one query per prompt. Callers plan within the budget; asking for more raises BudgetExceeded.

        Under a dollar cap, each chunk sends the longest prefix whose worst cases the dollars left hold; once it is
        settled (real usage costs less), the next chunk starts where it stopped. When not even one more worst case
        fits, that prompt and every later one get an unsent record (empty text, no tokens, not booked)."""
        self.ledger.reserve(len(prompts))
        sample_indices = list(sample_indices) if sample_indices is not None else [0] * len(prompts)
        if len(sample_indices) != len(prompts):
            raise ValueError(f"{len(sample_indices)} sample indices for {len(prompts)} prompts")
        records: list[QueryRecord] = []
        start = 0
        while start < len(prompts):
            chunk = list(prompts[start : start + self.batch_size])
            worst = self._worst_costs(chunk, params)
            fits = self.ledger.hold(worst)
            if fits == 0:
                refused = list(prompts[start:])
                log.info("dollar cap reached: %d %s queries not sent (worst case $%.6f, $%.6f left of $%g)",
                         len(refused), self.role, worst[0], self.ledger.usd_left, self.ledger.usd)
                self.ledger.refused += len(refused)
                records.extend(self._unsent(prompt, purpose) for prompt in refused)
                break
            batch, samples = chunk[:fits], sample_indices[start : start + fits]
            self._shown, self._shown_tokens = 0, 0
            try:
                completions, paid = self._answer(batch, samples, params)
                booked = [self._book(prompt, completion, purpose, was_paid)
                          for prompt, completion, was_paid in zip(batch, completions, paid, strict=True)]
            finally:
                self.ledger.release(sum(worst[:fits]))
            if self.ledger.spent_usd > (self.ledger.usd or math.inf) * (1 + 1e-9):
                log.warning("%s billed more than the worst case held for its queries (prompt tokens beyond the "
                            "byte bound?): $%.6f spent of a $%g cap", self.backend.model_id, self.ledger.spent_usd,
                            self.ledger.usd)
            if self.journal is not None:
                self.journal.append(booked)
            records.extend(booked)
            if self.progress is not None:  # what the bar has not shown yet: cached answers, whole-call backends
                tokens = sum(c.completion_tokens for c in completions) - self._shown_tokens
                self.progress.update(len(batch) - self._shown, max(tokens, 0))
            start += fits
        return records

    def _worst_costs(self, prompts: list[Messages], params: GenerationParams) -> list[float]:
        """Each prompt's worst-case dollars under a dollar cap (none needed without one)."""
        if self.ledger.usd is None:
            return [0.0] * len(prompts)
        worst = [self.backend.worst_cost_usd(p, params.max_new_tokens) for p in prompts]
        if any(w is None for w in worst):
            raise ValueError(f"a dollar budget needs the price of {self.backend.model_id}; it has none")
        return worst

    def _unsent(self, prompt: Messages, purpose: str) -> QueryRecord:
        return QueryRecord(query_id=NOT_SENT, role=self.role, purpose=purpose, prompt=prompt, text="", prompt_tokens=0,
                           completion_tokens=0, cached=False)

    def _book(self, prompt: Messages, completion: Completion, purpose: str, paid: bool) -> QueryRecord:
        record = QueryRecord(query_id=self.ledger.used, role=self.role, purpose=purpose, prompt=prompt,
                             text=completion.text, prompt_tokens=completion.prompt_tokens,
                             completion_tokens=completion.completion_tokens, cached=not paid)
        usd = 0.0
        if self.ledger.usd is not None:  # settle: what it really cost, cached or not (the budget is the design)
            usd = self.backend.cost_usd(completion.prompt_tokens, completion.completion_tokens) or 0.0
        self.ledger.record(record, usd)
        return record

    def _answer(self, batch: list[Messages], samples: list[int],
                params: GenerationParams) -> tuple[list[Completion], list[bool]]:
        """Completions for one chunk, and for each whether this call paid for it."""
        model_id = self.backend.model_id
        keys = [query_key(model_id, params, p, s) for p, s in zip(batch, samples, strict=True)]
        if self.cache is None:
            return self.backend.generate(batch, params, seeds=[seed_from_key(k) for k in keys]), [True] * len(batch)
        found = self.cache.get_many(keys)
        first: dict[str, int] = {}  # a query repeated within the chunk is generated and paid once
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        missing = [k for k in first if k not in found]
        generated: set[str] = set()
        while missing:
            mine, others = self.cache.claim(missing)
            answered = [k for k in missing if k not in mine and k not in others]
            if answered:  # another job committed them between our lookup and our claim
                found.update(self.cache.get_many(answered))
            if mine:
                found.update(self._generate_claimed(mine, [first[k] for k in mine], batch, samples, params))
                generated.update(mine)
            if others:
                found.update(self.cache.wait(others))  # another job is generating them: wait, do not pay twice
            missing = [k for k in missing if k not in found]
        paid = [k in generated and first[k] == i for i, k in enumerate(keys)]
        return [found[k] for k in keys], paid

    def _generate_claimed(self, keys: list[str], idx: list[int], batch: list[Messages], samples: list[int],
                          params: GenerationParams) -> dict[str, Completion]:
        """Generate our claimed keys and commit each answer before anyone books it; on failure free the claims.

        A backend that finishes prompts one by one reports each through `on_result`, and the answer is committed
        the moment it exists: a kill -9 mid-call loses only the rows still being decoded, so a large call (a deep
        queue keeps continuous batching busy) risks no more than a small one."""
        model_id = self.backend.model_id
        prompts = [batch[i] for i in idx]
        stored: dict[str, Completion] = {}

        def commit(i: int, completion: Completion) -> None:
            stored.update(self.cache.put_many(model_id, {keys[i]: completion}))
            if self.progress is not None:  # a large call moves the bar answer by answer
                self.progress.update(1, completion.completion_tokens)
                self._shown += 1
                self._shown_tokens += completion.completion_tokens

        try:
            # One query, one answer: each query samples from its own stream, seeded from its cache key, so its text
            # does not depend on the chunk, the batch or which queries an earlier run left in the cache.
            completions = self.backend.generate(prompts, params, seeds=[seed_from_key(k) for k in keys],
                                                on_result=commit)
        except BaseException as error:
            # Keep what arrived (it was paid for); a rerun finds it in the cache and pays only for the rest.
            arrived = {k: c for k, c in zip(keys, partial_completions(error) or [None] * len(keys), strict=True)
                       if c is not None and k not in stored}
            if arrived:
                self.cache.put_many(model_id, arrived)
            self.cache.release([k for k in keys if k not in arrived and k not in stored])
            raise
        rest = {k: c for k, c in zip(keys, completions, strict=True) if k not in stored}
        if rest:  # backends that answer a whole call at once (vLLM's offline engine)
            stored.update(self.cache.put_many(model_id, rest))
        return stored
