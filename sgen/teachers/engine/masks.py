"""Attention masks the engine builds itself (4-D masks pass through transformers' mask creation untouched)."""
from __future__ import annotations

import torch

from sgen.teachers.engine.attention import NAME as ENGINE_SDPA


def causal_block(q_len: int, kv_len: int, offset: int, device: torch.device) -> torch.Tensor:
    """[q_len, kv_len] booleans: query i (at column offset + i) sees keys 0 .. offset + i."""
    return torch.arange(kv_len, device=device)[None, :] <= offset + torch.arange(q_len, device=device)[:, None]


def model_mask(allowed: torch.Tensor, model) -> torch.Tensor:
    """A [batch, 1, q, kv] boolean mask in the form the model's attention takes: booleans for SDPA, an additive
    float mask (0 or the dtype's minimum) for eager attention."""
    if model.config._attn_implementation in ("sdpa", ENGINE_SDPA):
        return allowed
    dtype = next(model.parameters()).dtype
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed,
                                                                                         torch.finfo(dtype).min)
