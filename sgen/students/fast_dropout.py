"""Dropout whose masks are cheap on a CPU.

torch draws a CPU dropout mask one Bernoulli sample per element (about 6-8 ns each): the MiniLM student's 20
dropouts per step (hidden, attention probabilities, head) were 14% of an fp32 step on 2 cores and about a fifth
of a bf16 one. Here a mask comes from 16 random bits per element, drawn as int64 words (four lanes each) and
compared with a threshold: the same distribution up to p rounded to 1/65536 (0.1 -> 0.099991), at a sixth of the
cost. GPUs keep torch's own dropout, which is already cheap there.

`use_fast_dropout(model)` swaps it into a transformers encoder: every `nn.Dropout` module, and the attention-
probability dropout, which transformers' SDPA path hands to torch's kernel as a number (`sgen_train_sdpa` below
runs that attention as the eager path does, with these masks, when training on a CPU). LoRA fine-tuning (the
generative students, the teacher's adapter) swaps the modules only: PEFT's `lora_dropout` is an `nn.Dropout` in
front of every adapted projection, 210 masks per forward for all-linear LoRA on SmolLM2.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

ATTENTION = "sgen_train_sdpa"
_LEVELS = 2**16  # the values a 16-bit lane takes


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device) -> torch.Tensor:
    """A bool mask, True with probability 1 - p (p rounded to 1/65536), from the default generator of `device`
    (so `torch.manual_seed` / Lightning's seed_everything make it reproducible)."""
    n = math.prod(shape)
    words = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64, device=device)
    lanes = words.view(torch.int16)[:n]  # uniform over [-32768, 32767]
    return (lanes >= -32768 + round(p * _LEVELS)).view(shape)


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """`nn.functional.dropout` with bit masks on a CPU; torch's own elsewhere."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or not 0.0 < p < 1.0:
        return nn.functional.dropout(x, p, training)
    # Autograd keeps the bool mask for the backward, as torch's dropout does (not a float copy of it).
    return torch.mul(x, keep_mask(x.shape, p, x.device)).mul_(1.0 / (1.0 - p))


class FastDropout(nn.Dropout):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)


def train_sdpa(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
               **kwargs) -> tuple[torch.Tensor, None]:
    """transformers' attention signature ([batch, heads, q, dim] in, [batch, q, heads, dim] out). Training with
    attention dropout on a CPU: scores, softmax, bit-mask dropout, values (torch's SDPA takes this math path
    too when dropout is on); anything else is transformers' SDPA path unchanged."""
    causal = kwargs.get("is_causal") or getattr(module, "is_causal", False)
    if not dropout or query.device.type != "cpu" or causal or key.shape[1] != query.shape[1]:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    return attend_with_bit_masks(query, key, value, attention_mask, dropout, scaling).transpose(1, 2).contiguous(), None


def attend_with_bit_masks(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                          attention_mask: torch.Tensor | None, dropout: float, scaling: float | None) -> torch.Tensor:
    """Scores, softmax, bit-mask dropout on the probabilities, values: [batch, heads, q, dim] in and out. A bool
    mask is True where a key may be attended; a float mask is added to the scores."""
    scale = query.shape[-1] ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query * scale, key.transpose(-1, -2))
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    weights = _dropout_fn(torch.softmax(scores, dim=-1), dropout)
    return torch.matmul(weights, value)


_dropout_fn = dropout  # `train_sdpa`'s own `dropout` argument is the probability

AttentionInterface.register(ATTENTION, train_sdpa)
ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)


def use_fast_dropout(model: nn.Module, attention: bool = True) -> int:
    """Swap every `nn.Dropout` in `model` for `FastDropout` (same p) and, with `attention`, where the model attends
    through transformers' SDPA, its attention for `train_sdpa` (an encoder's attention-probability dropout).
    `attention=False` leaves the attention as it is: a teacher's fine-tuning, whose model then serves the
    engine, which swaps in its own attention only over SDPA. Returns how many dropout modules were swapped."""
    swapped = 0
    for parent in model.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                setattr(parent, name, FastDropout(child.p, child.inplace))
                swapped += 1
    if not attention:
        return swapped
    for sub in model.modules():
        config = getattr(sub, "config", None)
        if config is not None and getattr(config, "_attn_implementation", None) == "sdpa":
            config._attn_implementation = ATTENTION
    return swapped
