"""Keys and values of shared prompt prefixes, computed once per model and reused by every prompt that starts so.

A prefix is computed by extending the longest prefix already stored (the system prompt, then the instruction,
then a label), so a chain of prefixes costs its tokens once. Least recently used prefixes are dropped beyond a
token budget.
"""
from __future__ import annotations

from collections import OrderedDict

import torch

from sgen.teachers.engine.masks import causal_block, model_mask
from sgen.teachers.engine.slot_cache import SlotCache

LayerKV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values of shape [1, heads, length, dim]


class PrefixStore:
    def __init__(self, model, num_layers: int, max_tokens: int = 16384) -> None:
        self.model = model
        self.num_layers = num_layers
        self.max_tokens = max_tokens
        self._store: OrderedDict[tuple[int, ...], LayerKV] = OrderedDict()
        self.stats = {"computed_tokens": 0, "hits": 0}

    def kv(self, tokens: tuple[int, ...]) -> LayerKV:
        found = self._store.get(tokens)
        if found is not None:
            self._store.move_to_end(tokens)
            self.stats["hits"] += 1
            return found
        base = max((key for key in self._store if len(key) < len(tokens) and tokens[: len(key)] == key),
                   key=len, default=())
        kv = self._extend(self._store[base] if base else None, len(base), tokens)
        self._store[tokens] = kv
        self._evict()
        return kv

    def _extend(self, base_kv: LayerKV | None, base_len: int, tokens: tuple[int, ...]) -> LayerKV:
        device = next(self.model.parameters()).device
        n = len(tokens)
        cache = SlotCache(self.num_layers, 1, n)
        if base_kv is not None:
            for layer, (k, v) in zip(cache.slot_layers, base_kv, strict=True):
                layer.put_prefix(slice(0, 1), slice(0, base_len), k, v)
        cache.window = (slice(0, 1), slice(0, n), base_len)
        ids = torch.tensor([tokens[base_len:]], device=device)
        positions = torch.arange(base_len, n, device=device).unsqueeze(0)
        allowed = causal_block(n - base_len, n, base_len, device)[None, None]
        self.model(input_ids=ids, position_ids=positions, attention_mask=model_mask(allowed, self.model),
                   past_key_values=cache,
                   use_cache=True, logits_to_keep=1)
        self.stats["computed_tokens"] += n - base_len
        return [(layer.keys[:, :, :n].clone(), layer.values[:, :, :n].clone()) for layer in cache.slot_layers]

    def _evict(self) -> None:
        while len(self._store) > 1 and sum(len(k) for k in self._store) > self.max_tokens:
            self._store.popitem(last=False)

    def clear(self) -> None:
        self._store.clear()
