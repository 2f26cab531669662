"""The engine's linear layers on a CPU in fp32: weights reordered once into oneDNN's blocked layout, instead of
`F.linear` (MKL), which packs the weight again on every call.

Two reasons, both measured on an AMD EPYC (2 cores, AVX2, fp32; BENCHMARKS.md):
- speed: 256 SmolLM2 rewrites ran 2.84x -> 3.20x the static batches' tokens/s in one run; paired rounds of 64
  gave 1.10x and 1.23x (two runs, same texts 64/64). The lm_head (128 rows x 576 -> 49,152) runs at 121 against
  70 GFLOP/s, the MLP's 576 -> 1536 at 116 against 100;
- batch invariance: a row's output does not depend on the rows beside it. MKL's sgemm picks its blocking by the
  number of rows, so a prompt's logits moved in the last bits with its batch (every SmolLM2 layer shape, M 2 to
  300); oneDNN's packed kernel gives the same bits for M 1 to 300. "One query, one answer" then holds in the
  linear layers exactly, not only nearly.
The packed copies live beside the model's own weights (SmolLM2 fp32: +540 MB of weights, +0.7 GB peak) and are
swapped in only while the engine runs (`LinearPacks.swapped`), so fine-tuning, `generate` and the static engine
see plain nn.Linear.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

log = logging.getLogger(__name__)


class PackedLinear(nn.Module):
    """An nn.Linear for inference whose weight oneDNN has reordered once (no autograd)."""

    def __init__(self, linear: nn.Linear, rows_hint: int) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.packed = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), rows_hint)
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), self.packed, self.bias, "none", [], "")


class LinearPacks:
    """Packed twins of a model's nn.Linear layers, and the swap that puts them in place for a block."""

    def __init__(self, model: nn.Module, rows_hint: int) -> None:
        self.model = model
        self.swaps: list[tuple[nn.Module, str, nn.Linear, PackedLinear]] = [
            (parent, name, child, PackedLinear(child, rows_hint))
            for parent in model.modules() for name, child in parent.named_children()
            if type(child) is nn.Linear]  # subclasses (LoRA layers, quantized linears) keep their own forward

    @contextmanager
    def swapped(self) -> Iterator[None]:
        for parent, name, _, packed in self.swaps:
            setattr(parent, name, packed)
        try:
            yield
        finally:
            for parent, name, linear, _ in self.swaps:
                setattr(parent, name, linear)


def pack_linears(model: nn.Module, rows_hint: int) -> LinearPacks | None:
    """Packed linears for a CPU fp32 model where oneDNN is built in, else None (the model's own layers run).
    bf16 keeps F.linear, which already calls oneDNN for bf16; a packed bf16 path has not been measured.
    Copies that would take more than half of the memory available now are not made: a speed-up is not worth
    running out of memory (a 1.5B-parameter teacher in fp32 would need 6 GB more)."""
    weight = next(model.parameters())
    if weight.device.type != "cpu" or weight.dtype != torch.float32 or not torch.backends.mkldnn.is_available():
        return None
    need = sum(m.weight.numel() * m.weight.element_size() for m in model.modules() if type(m) is nn.Linear)
    free = available_memory()
    if free is not None and need > free / 2:
        log.info("teacher weights not packed: the copies would take %.1f GB of %.1f GB available "
                 "(teacher.backend.pack_weights)", need / 2**30, free / 2**30)
        return None
    try:
        return LinearPacks(model, rows_hint)
    except (RuntimeError, AttributeError) as exc:  # an ATen build without these ops
        log.info("oneDNN weight packing unavailable (%s); the engine keeps F.linear", exc)
        return None


def available_memory() -> int | None:
    """Bytes of memory available now (Linux: MemAvailable), or None where that is unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
