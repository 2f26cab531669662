"""Padding-free encoder passes: the linear layers see only real tokens.

A padded batch of tweets is about 18% padding even when grouped by length (batches of 32, 4-batch buckets), and
every projection, GELU, LayerNorm and dropout of an encoder pays for it. Here the batch is flattened to its real
tokens ([1, tokens, hidden]); only attention, which must know where each sequence starts and ends, puts its queries,
keys and values back on the padded [batch, heads, width, dim] grid, and takes its output off it again. The result
is the padded pass's math on the real tokens (equal up to float rounding), as MosaicBERT and flash-attention's
varlen path do on GPUs, here with any SDPA kernel.

BERT-family encoders only (all-MiniLM-L6-v2 is one): their positions are column indices, so the flattened pass
gives each token the position embedding the padded pass would. Other models keep padded batches.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

from sgen.students.fast_dropout import ATTENTION as BIT_MASK_ATTENTION
from sgen.students.fast_dropout import FastDropout, attend_with_bit_masks, train_sdpa

ATTENTION = "sgen_unpadded"


@dataclass(frozen=True)
class Layout:
    """Where a batch's real tokens sit on its padded [batch, width] grid."""

    index: torch.Tensor  # [tokens] flat grid positions, row-major
    rows: torch.Tensor  # [tokens] the sequence each token belongs to
    columns: torch.Tensor  # [tokens] its column: the position the padded pass gives it
    lengths: torch.Tensor  # [batch]
    key_mask: torch.Tensor  # [batch, 1, 1, width] bool: the keys a query may attend to
    batch: int
    width: int

    @classmethod
    def of(cls, attention_mask: torch.Tensor) -> Layout:
        real = attention_mask.bool()
        lengths = real.sum(1)
        width = max(int(real.any(0).nonzero().max()) + 1, 1) if real.any() else 1
        real = real[:, :width]
        rows, columns = real.nonzero(as_tuple=True)
        # A row with no real token has no query to keep, but its softmax must not see only masked keys (NaN).
        keys = real | (lengths == 0)[:, None]
        return cls(rows * width + columns, rows, columns, lengths, keys[:, None, None, :], real.shape[0], width)

    def to_grid(self, x: torch.Tensor) -> torch.Tensor:
        """[1, heads, tokens, dim] -> [batch, heads, width, dim], zeros where the padding was."""
        _, heads, _, dim = x.shape
        grid = x.new_zeros(self.batch * self.width, heads, dim).index_copy(0, self.index, x[0].transpose(0, 1))
        return grid.view(self.batch, self.width, heads, dim).transpose(1, 2)

    def from_grid(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, heads, width, dim] -> [1, tokens, heads, dim]: transformers' attention output layout."""
        _, heads, _, dim = x.shape
        return x.transpose(1, 2).reshape(self.batch * self.width, heads, dim).index_select(0, self.index)[None]


def unpadded_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                       attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                       sgen_layout: Layout | None = None, **kwargs) -> tuple[torch.Tensor, None]:
    """transformers' attention signature. With `sgen_layout`, the inputs are the flattened real tokens of the
    batch it describes; without, a padded batch (the model called directly), attended as before."""
    bit_masks = isinstance(getattr(module, "dropout", None), FastDropout)  # use_fast_dropout swapped it
    if sgen_layout is None:
        attend = train_sdpa if bit_masks else sdpa_attention_forward
        return attend(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    q, k, v = (sgen_layout.to_grid(t) for t in (query, key, value))
    if bit_masks and dropout and q.device.type == "cpu":
        out = attend_with_bit_masks(q, k, v, sgen_layout.key_mask, dropout, scaling)
    else:
        out = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=sgen_layout.key_mask,
                                                         dropout_p=dropout, scale=scaling)
    return sgen_layout.from_grid(out), None


AttentionInterface.register(ATTENTION, unpadded_attention)
ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)


def unpadding_unsupported(encoder: nn.Module) -> str | None:
    """Why `encoder` cannot run padding-free, or None when it can."""
    config = getattr(encoder, "config", None)
    if config is None or getattr(config, "model_type", None) != "bert":
        return f"model type {getattr(config, 'model_type', None)!r} (padding-free passes support BERT encoders)"
    if getattr(config, "is_decoder", False):
        return "a BERT decoder"
    if config._attn_implementation not in ("sdpa", BIT_MASK_ATTENTION, ATTENTION):
        return f"attention implementation {config._attn_implementation!r} (sdpa only)"
    return None


def use_unpadding(encoder: nn.Module) -> bool:
    """Route `encoder`'s attention through `unpadded_attention` where it can run padding-free (after
    `use_fast_dropout`, whose bit masks it keeps); whether it now does."""
    if unpadding_unsupported(encoder) is not None:
        return False
    encoder.config._attn_implementation = ATTENTION
    return True


def mean_pooled(encoder: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[batch, hidden] in fp32: the mean of each sequence's last hidden states over its real tokens, computed on
    those tokens only. `encoder` must have been through `use_unpadding`."""
    layout = Layout.of(attention_mask)
    flat = input_ids[:, :layout.width].reshape(-1).index_select(0, layout.index)[None]
    hidden = encoder(input_ids=flat, position_ids=layout.columns[None], sgen_layout=layout).last_hidden_state[0]
    # Summed in fp32: under bf16 autocast a 64-token sum in bf16 would lose the low bits of every embedding.
    sums = hidden.new_zeros(layout.batch, hidden.shape[-1], dtype=torch.float32).index_add(0, layout.rows,
                                                                                           hidden.float())
    return sums / layout.lengths.clamp(min=1)[:, None]
