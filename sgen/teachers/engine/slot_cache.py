"""A key/value cache the engine lays out itself: one preallocated buffer per layer, rows are requests (slots),
columns are token positions, and every row's newest token sits in the same column.

transformers' DynamicCache grows by concatenation (a full copy of the cache per layer per step) and can only
hold one rectangular batch. Here the engine points the cache at a window (a run of rows, a run of columns, and
the column where the forward writes its new keys) before each forward: decode steps write one column for all
running rows, the prefill of newcomers writes their suffix after a shared prefix copied into their rows. Rows
that finish are overwritten by the last row (swap-remove), so the running rows stay contiguous and no forward
computes for a finished request.
"""
from __future__ import annotations

import weakref

import torch
from transformers.cache_utils import Cache, CacheLayerMixin


class SlotLayer(CacheLayerMixin):
    """One layer's keys and values, [rows, kv heads, columns, head dim], written through the cache's window."""

    is_sliding = False

    def __init__(self, owner: SlotCache) -> None:
        super().__init__()
        # A weak reference: a layer pointing back at its cache made a cycle, so each call's buffers (up to
        # kv_cache_mb) outlived the call until Python's cyclic collector ran (+225 MB per 32-rewrite call).
        self.owner = weakref.proxy(owner)

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        rows, cols = self.owner.capacity
        shape = (rows, key_states.shape[1], cols, key_states.shape[-1])
        # Zeros, not empty: masked columns are still multiplied by a zero weight, and 0 * NaN would poison a row.
        self.keys = torch.zeros(shape, dtype=key_states.dtype, device=key_states.device)
        self.values = torch.zeros((*shape[:3], value_states.shape[-1]), dtype=value_states.dtype,
                                  device=value_states.device)
        self.dtype, self.device = key_states.dtype, key_states.device
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        rows, cols, write = self.owner.window
        at = cols.start + write
        self.keys[rows, :, at : at + key_states.shape[-2]] = key_states
        self.values[rows, :, at : at + value_states.shape[-2]] = value_states
        return self.keys[rows, :, cols], self.values[rows, :, cols]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.get_seq_length() + query_length, 0

    def get_seq_length(self) -> int:
        return self.owner.window[2]

    def get_max_length(self) -> int:
        return self.owner.capacity[1]

    # -- moves the engine makes between forwards ------------------------------------------------------------------
    def copy_row(self, src: int, dst: int) -> None:
        if self.is_initialized:
            self.keys[dst] = self.keys[src]
            self.values[dst] = self.values[src]

    def put_prefix(self, rows: slice, cols: slice, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Broadcast one shared prefix ([1, heads, length, dim]) into several rows."""
        if not self.is_initialized:
            self.lazy_initialization(keys, values)
        self.keys[rows, :, cols] = keys
        self.values[rows, :, cols] = values

    def shift_columns(self, rows: slice, src: slice, dst_start: int) -> None:
        """Move a run of columns (compaction to the left, or room on the left for a longer newcomer)."""
        if self.is_initialized:
            width = src.stop - src.start
            self.keys[rows, :, dst_start : dst_start + width] = self.keys[rows, :, src].clone()
            self.values[rows, :, dst_start : dst_start + width] = self.values[rows, :, src].clone()

    def resize(self, rows: int, cols: int, keep_rows: int, keep_cols: int) -> None:
        if not self.is_initialized:
            return
        for name in ("keys", "values"):
            old = getattr(self, name)
            new = torch.zeros((rows, old.shape[1], cols, old.shape[3]), dtype=old.dtype, device=old.device)
            new[:keep_rows, :, :keep_cols] = old[:keep_rows, :, :keep_cols]
            setattr(self, name, new)


class SlotCache(Cache):
    """The cache a model forward sees. `window = (rows, cols, write)`: the forward reads `cols` of `rows` and writes
    its new keys at column `cols.start + write`."""

    def __init__(self, num_layers: int, rows: int, cols: int) -> None:
        self.capacity = (rows, cols)
        self.window: tuple[slice, slice, int] = (slice(0, 0), slice(0, 0), 0)
        super().__init__(layers=[SlotLayer(self) for _ in range(num_layers)])

    @property
    def slot_layers(self) -> list[SlotLayer]:
        return self.layers  # type: ignore[return-value]

    def copy_row(self, src: int, dst: int) -> None:
        for layer in self.slot_layers:
            layer.copy_row(src, dst)

    def shift_columns(self, rows: slice, src: slice, dst_start: int) -> None:
        for layer in self.slot_layers:
            layer.shift_columns(rows, src, dst_start)

    def resize(self, rows: int, cols: int, keep_rows: int, keep_cols: int) -> None:
        for layer in self.slot_layers:
            layer.resize(rows, cols, keep_rows, keep_cols)
        self.capacity = (rows, cols)
