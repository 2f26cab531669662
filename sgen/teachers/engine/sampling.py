"""Next-token choice for a batch of rows that each own a random stream.

The distribution is the one transformers' `generate` samples: temperature, then top-k (the model's
generation_config value, transformers' default 50 when unset), then top-p over what top-k kept. Working on the
top-k slice keeps sampling cheap (no sort of a 49k vocabulary per row per step), and each row draws from its own
generator, so a row's text does not depend on the rows it shares a batch with.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

# transformers' default when a model's generation_config leaves top_k unset (GenerationConfig defaults).
DEFAULT_TOP_K = 50


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    top_k: int = DEFAULT_TOP_K

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


def next_tokens(logits: torch.Tensor, settings: SamplingSettings,
                generators: Sequence[torch.Generator | None]) -> torch.Tensor:
    """One token per row of `logits` ([rows, vocab]); greedy rows take the first maximum, as argmax does."""
    if settings.greedy:
        return logits.argmax(dim=-1)  # bf16 to fp32 is exact: the same first maximum
    k = min(settings.top_k, logits.shape[-1]) if settings.top_k and settings.top_k > 0 else logits.shape[-1]
    # Top-k in the logits' own dtype, then temperature on the k kept: dividing by T > 0 keeps the order, and
    # converting 49k bf16 logits per row to fp32 first cost as much as the top-k itself.
    values, index = torch.topk(logits, k, dim=-1)  # sorted, largest first
    probs = torch.softmax(values.float() / settings.temperature, dim=-1)
    if settings.top_p < 1.0:
        # Keep the smallest head whose mass reaches top_p: a token stays while the mass before it is below top_p.
        before = torch.cumsum(probs, dim=-1) - probs
        probs = probs.masked_fill(before >= settings.top_p, 0.0)
    picks = [torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(generators)]
    return index.gather(1, torch.stack(picks)).squeeze(1)
