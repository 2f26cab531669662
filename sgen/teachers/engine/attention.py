"""The attention the engine runs on a CPU over grouped key/value heads, without copying them per query head.

transformers' SDPA path turns grouped-query attention (SmolLM2: 9 query heads over 3 key/value heads) into plain
attention whenever a mask is given, which the engine always gives. For a prefill it repeats every key and value
head for its query heads; torch's CPU kernel takes the groups as they are (`enable_gqa=True`) with the mask, the
same numbers a quarter to a third sooner (2 cores, bf16: 64 prompts of 40 new tokens over 90 columns 23.2 -> 17.7
ms per layer; 8 GSM8K prompts of 300 over 850 columns 43.0 -> 32.4 ms). A decode step packs the query heads of each
group into a short query over its key/value head, as transformers does, but runs it as two batched matmuls
(`_decode_attention`). GPUs keep transformers' path: their fused kernels fall back to the math kernel for a
masked GQA call.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

NAME = "sgen_cpu_gqa_sdpa"


def cpu_gqa_sdpa(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                 attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                 **kwargs) -> tuple[torch.Tensor, None]:
    """transformers' attention signature: [batch, heads, q, dim] in, [batch, q, heads, dim] out. A masked query over
    grouped heads takes the grouped paths (one token: `_decode_attention`; more: SDPA with enable_gqa); the rest is
    transformers' own path (engine_attention swaps this in on a CPU only)."""
    groups = getattr(module, "num_key_value_groups", 1)
    if attention_mask is None or groups == 1 or kwargs.get("softcap") or dropout:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    if query.shape[2] == 1:
        return _decode_attention(query, key, value, attention_mask, groups, scaling)
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, enable_gqa=True)
    return out.transpose(1, 2).contiguous(), None


def _decode_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor, groups: int,
                      scaling: float | None) -> tuple[torch.Tensor, None]:
    """One new token per row: the query heads of each group packed as a `groups`-token query over their shared
    key/value head (no copies of keys and values), in two batched matmuls. On a CPU this beats SDPA's kernel,
    whose per-(row, head) blocks are built for long queries (2 cores, fp32, 80 rows over 137 columns:
    2.2 vs 3.1 ms per layer)."""
    b, heads, _, dim = query.shape
    # The scale goes on the query ([rows, heads, dim]), not on the scores ([rows, heads, columns]).
    q = query.reshape(b, heads // groups, groups, dim) * (dim**-0.5 if scaling is None else scaling)
    scores = torch.matmul(q, key.transpose(-1, -2))
    if mask.dtype == torch.bool:
        scores.masked_fill_(~mask, torch.finfo(scores.dtype).min)
    else:
        scores += mask
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    out = torch.matmul(weights, value)  # [b, kv heads, groups, dim]: query heads in order, as the model laid them
    return out.reshape(b, heads, 1, dim).transpose(1, 2).contiguous(), None


AttentionInterface.register(NAME, cpu_gqa_sdpa)
ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)  # masks as SDPA takes them, should a forward build one


@contextmanager
def engine_attention(model) -> Iterator[None]:
    """Run the model's SDPA attention as `cpu_gqa_sdpa` inside the block (CPU only), and restore it after."""
    config = model.config
    before = config._attn_implementation
    swap = before == "sdpa" and next(model.parameters()).device.type == "cpu"
    if swap:
        config._attn_implementation = NAME
    try:
        yield
    finally:
        if swap:
            config._attn_implementation = before
