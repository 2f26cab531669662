"""Continuous batching for a transformers causal LM: a row leaves the batch the step it finishes and waiting prompts
take its place, instead of a static batch decoding padding until its longest member ends.

Layout (see slot_cache.py): running requests occupy rows 0..n-1 of one key/value buffer, and every row's newest
token sits in column `length - 1`, so one decode step writes column `length` for all rows. Newcomers are
prefilled together, group by group: a group shares a prompt prefix whose keys and values come from the prefix
store (computed once), so only the rest of each prompt is prefilled. Their rows are right-aligned with the running
ones; columns no running row uses any more are dropped when the buffer fills up.
"""
from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from sgen.teachers.engine.attention import engine_attention
from sgen.teachers.engine.masks import causal_block, model_mask
from sgen.teachers.engine.packed_linear import LinearPacks, pack_linears
from sgen.teachers.engine.prefix_store import PrefixStore
from sgen.teachers.engine.prefixes import prefix_chains
from sgen.teachers.engine.sampling import SamplingSettings, next_tokens
from sgen.teachers.engine.slot_cache import SlotCache

log = logging.getLogger(__name__)


@dataclass
class Request:
    index: int
    ids: list[int]
    chain: list[int]  # depths of the shared prefixes this prompt passes through, shortest first
    generator: torch.Generator | None
    out: list[int] = field(default_factory=list)

    @property
    def prefix(self) -> int:
        """Leading tokens whose keys and values come from the prefix store."""
        return self.chain[-1] if self.chain else 0

    @property
    def prefix_key(self) -> tuple[int, ...]:
        return tuple(self.ids[: self.prefix])


class ContinuousBatcher:
    """Decodes many prompts with at most `max_batch` rows in flight, fewer when their keys and values would
    outgrow `kv_cache_mb` (long prompts). `admit_fraction`: newcomers are prefilled once at least this share of
    the rows is free (or nothing else waits), so one prefill serves several. `prefill_padding`: a prefill forward
    computes at most this share of padding over its real tokens (newcomers of very different lengths are split
    into several forwards) once it holds `prefill_min_tokens` real tokens. `pack_weights`: on a CPU in fp32, the
    linear layers run from oneDNN-packed copies of their weights (packed_linear.py: faster, batch-invariant)."""

    def __init__(self, model, eos_ids: Sequence[int], pad_id: int, max_batch: int = 32,
                 prefix_tokens: int = 16384, admit_fraction: float = 0.25, kv_cache_mb: float = 1024,
                 prefill_padding: float = 0.25, prefill_min_tokens: int = 256, pack_weights: bool = True) -> None:
        if max_batch < 1:
            raise ValueError(f"batch size must be >= 1, got {max_batch}")
        self.model = model
        self.eos = set(int(e) for e in eos_ids)
        self.pad_id = int(pad_id)
        self.max_batch = max_batch
        self.admit_fraction = admit_fraction
        self.prefill_padding, self.prefill_min_tokens = prefill_padding, prefill_min_tokens
        self.kv_cache_bytes = kv_cache_mb * 2**20
        config = model.config.get_text_config()
        self.num_layers = config.num_hidden_layers
        heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        # Keys and values of one token in every layer.
        self.token_bytes = 2 * self.num_layers * heads * head_dim * next(model.parameters()).element_size()
        self.prefixes = PrefixStore(model, self.num_layers, prefix_tokens)
        self.device = next(model.parameters()).device
        # Packed at the first run (a teacher fine-tuned before it generates never holds both), decided once.
        self.linears: LinearPacks | None = None
        self._packing_decided = not pack_weights
        self.stats = {"prefill_tokens": 0, "prefill_padded_tokens": 0, "prefill_forwards": 0, "decode_steps": 0,
                      "decode_rows": 0, "admissions": 0}

    @torch.inference_mode()
    def run(self, prompts: Sequence[Sequence[int]], max_new_tokens: int, settings: SamplingSettings,
            generators: Sequence[torch.Generator | None],
            on_finish: Callable[[int, list[int]], None] | None = None) -> list[list[int]]:
        """Generated token ids per prompt (in order), each ending at its first eos (included) or at
        max_new_tokens. `on_finish(index, ids)` is called the moment a prompt's row finishes."""
        if not prompts:
            return []
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        # prefix_tokens=0 switches sharing off (every prompt prefilled whole), for comparison.
        chains = prefix_chains(prompts) if self.prefixes.max_tokens > 0 else [[] for _ in prompts]
        requests = [Request(i, list(p), chains[i], g) for i, (p, g) in enumerate(zip(prompts, generators,
                                                                                     strict=True))]
        # Grouped by shared prefix, then by remaining length: each prefill serves one prefix with little padding.
        queue = deque(sorted(requests, key=lambda r: (r.prefix_key, len(r.ids) - r.prefix)))
        columns = max(len(p) for p in prompts) + max_new_tokens
        rows = min(self.max_batch, len(requests), max(1, int(self.kv_cache_bytes // (columns * self.token_bytes))))
        run = _Run(self, rows, columns, max_new_tokens, settings)
        if not self._packing_decided:
            self.linears, self._packing_decided = pack_linears(self.model, self.max_batch), True
        with engine_attention(self.model), self.linears.swapped() if self.linears else nullcontext():
            while queue or run.rows:
                free = run.capacity - len(run.rows)
                if queue and free and (not run.rows or free >= max(1, int(self.admit_fraction * run.capacity))
                                       or len(queue) <= free):
                    run.admit([queue.popleft() for _ in range(min(free, len(queue)))])
                else:
                    run.decode()
                for request in run.finish():
                    if on_finish is not None:
                        on_finish(request.index, request.out)
        return [r.out for r in requests]


class _Run:
    """The mutable state of one `run` call: the key/value buffer, the rows in flight, their masks and positions."""

    def __init__(self, engine: ContinuousBatcher, rows: int, columns: int, max_new: int,
                 settings: SamplingSettings) -> None:
        self.e = engine
        self.capacity = rows
        self.max_new = max_new
        self.settings = settings
        self.cache = SlotCache(engine.num_layers, self.capacity, columns)
        dev = engine.device
        self.mask = torch.zeros((self.capacity, columns), dtype=torch.bool, device=dev)
        self.pos = torch.zeros(self.capacity, dtype=torch.long, device=dev)  # next position id per row
        self.start = torch.zeros(self.capacity, dtype=torch.long, device=dev)  # first column a row uses
        self.last = torch.zeros(self.capacity, dtype=torch.long, device=dev)  # token to feed next
        self.rows: list[Request] = []
        self.length = 0  # next column a decode step writes

    # -- newcomers -------------------------------------------------------------------------------------------------
    def admit(self, newcomers: list[Request]) -> None:
        groups = [part for _, g in itertools.groupby(newcomers, key=lambda r: r.prefix_key)
                  for part in self._bounded_padding(list(g))]
        widths = [g[0].prefix + max(len(r.ids) - r.prefix for r in g) for g in groups]
        if not self.rows:
            self.length = 0
            self.mask.zero_()
        need = max(widths)
        if need > self.length:
            self._make_room_left(need - self.length)
        for group, width in zip(groups, widths, strict=True):
            self._prefill(group, self.length - width)
        self.e.stats["admissions"] += 1

    def _bounded_padding(self, group: list[Request]) -> list[list[Request]]:
        """Split a prefix group (sorted by suffix length, as the queue is) into runs that each prefill with little
        padding: the suffixes of a group are padded to its longest, and tweets of 10 and 60 tokens in one forward
        made 31% of the rewrites' prefill compute padding (13,474 tokens computed for 9,259 real)."""
        parts: list[list[Request]] = [[]]
        real = longest = 0
        for r in group:
            n = len(r.ids) - r.prefix
            if (parts[-1] and real >= self.e.prefill_min_tokens
                    and (len(parts[-1]) + 1) * max(longest, n) > (1 + self.e.prefill_padding) * (real + n)):
                parts.append([])
                real = longest = 0
            parts[-1].append(r)
            real, longest = real + n, max(longest, n)
        return parts

    def _prefill(self, group: list[Request], c0: int) -> None:
        b, first = len(group), len(self.rows)
        rows = slice(first, first + b)
        p = group[0].prefix
        suffixes = [r.ids[p:] for r in group]
        s = max(len(x) for x in suffixes)
        width = p + s
        cols = slice(c0, c0 + width)
        dev = self.e.device
        self.mask[rows] = False
        if p:
            for depth in group[0].chain[:-1]:  # shorter shared prefixes first: each extends the one before
                self.e.prefixes.kv(tuple(group[0].ids[:depth]))
            for layer, (k, v) in zip(self.cache.slot_layers, self.e.prefixes.kv(group[0].prefix_key), strict=True):
                layer.put_prefix(rows, slice(c0, c0 + p), k, v)
            self.mask[rows, c0 : c0 + p] = True
        ids = torch.full((b, s), self.e.pad_id, dtype=torch.long, device=dev)
        positions = torch.full((b, s), p, dtype=torch.long, device=dev)
        for i, x in enumerate(suffixes):
            ids[i, s - len(x) :] = torch.tensor(x, device=dev)
            positions[i, s - len(x) :] = torch.arange(p, p + len(x), device=dev)
            self.mask[first + i, c0 + width - len(x) : c0 + width] = True
        allowed = self.mask[rows, cols][:, None, None, :] & causal_block(s, width, p, dev)[None, None]
        # A padding query with no prefix to look at would see nothing (NaN in softmax): let it see itself.
        allowed[:, 0, torch.arange(s, device=dev), p + torch.arange(s, device=dev)] |= ~self.mask[rows, c0 + p :
                                                                                                  c0 + width]
        self.cache.window = (rows, cols, p)
        out = self.e.model(input_ids=ids, position_ids=positions, attention_mask=model_mask(allowed, self.e.model),
                           past_key_values=self.cache, use_cache=True, logits_to_keep=1)
        tokens = next_tokens(out.logits[:, -1, :], self.settings, [r.generator for r in group])
        self.pos[rows] = torch.tensor([len(r.ids) for r in group], device=dev)
        self.start[rows] = c0
        self.last[rows] = tokens
        for r, t in zip(group, tokens.tolist(), strict=True):
            r.out.append(t)
        self.rows.extend(group)
        self.e.stats["prefill_tokens"] += sum(len(x) for x in suffixes)
        self.e.stats["prefill_padded_tokens"] += b * s
        self.e.stats["prefill_forwards"] += 1

    # -- decoding --------------------------------------------------------------------------------------------------
    def decode(self) -> None:
        if self.length + 1 > self.cache.capacity[1]:
            self._compact()
        if self.length + 1 > self.cache.capacity[1]:
            self._resize_columns(self.length + 1 + self.max_new)
        n = len(self.rows)
        c_min = int(self.start[:n].min())
        rows, cols = slice(0, n), slice(c_min, self.length + 1)
        self.mask[rows, self.length] = True
        allowed = self.mask[rows, cols][:, None, None, :]
        self.cache.window = (rows, cols, self.length - c_min)
        out = self.e.model(input_ids=self.last[rows, None], position_ids=self.pos[rows, None],
                           attention_mask=model_mask(allowed, self.e.model), past_key_values=self.cache,
                           use_cache=True)
        tokens = next_tokens(out.logits[:, -1, :], self.settings, [r.generator for r in self.rows])
        self.length += 1
        self.pos[rows] += 1
        self.last[rows] = tokens
        for r, t in zip(self.rows, tokens.tolist(), strict=True):
            r.out.append(t)
        self.e.stats["decode_steps"] += 1
        self.e.stats["decode_rows"] += n

    def finish(self) -> list[Request]:
        """Take finished rows out (the last row moves into each hole) and return them."""
        done = [i for i, r in enumerate(self.rows) if r.out[-1] in self.e.eos or len(r.out) >= self.max_new]
        finished = []
        for i in reversed(done):
            last = len(self.rows) - 1
            finished.append(self.rows[i])
            if i != last:
                self.cache.copy_row(last, i)
                for t in (self.mask, self.pos, self.start, self.last):
                    t[i] = t[last]
                self.rows[i] = self.rows[last]
            self.rows.pop()
        return finished

    # -- columns ---------------------------------------------------------------------------------------------------
    def _make_room_left(self, delta: int) -> None:
        """Shift the running rows right by `delta` columns, so a newcomer longer than them fits on the left."""
        if self.length + delta + 1 > self.cache.capacity[1]:
            self._compact()
            if self.length + delta + 1 > self.cache.capacity[1]:
                self._resize_columns(self.length + delta + 1 + self.max_new)
        n = len(self.rows)
        if n:
            c_min = int(self.start[:n].min())
            src = slice(c_min, self.length)
            self.cache.shift_columns(slice(0, n), src, c_min + delta)
            self.mask[:n, c_min + delta : self.length + delta] = self.mask[:n, src].clone()
            self.mask[:n, c_min : c_min + delta] = False
            self.start[:n] += delta
        self.length += delta

    def _compact(self) -> None:
        """Drop the columns on the left that no running row uses any more."""
        n = len(self.rows)
        c_min = int(self.start[:n].min()) if n else self.length
        if c_min == 0:
            return
        src = slice(c_min, self.length)
        if n:
            self.cache.shift_columns(slice(0, n), src, 0)
            width = self.length - c_min
            self.mask[:n, :width] = self.mask[:n, src].clone()
            self.mask[:n, width:] = False
            self.start[:n] -= c_min
        self.length -= c_min

    def _resize_columns(self, columns: int) -> None:
        columns = max(columns, int(self.cache.capacity[1] * 1.5))
        self.cache.resize(self.capacity, columns, self.capacity, self.length)
        mask = torch.zeros((self.capacity, columns), dtype=torch.bool, device=self.mask.device)
        mask[:, : self.length] = self.mask[:, : self.length]
        self.mask = mask
