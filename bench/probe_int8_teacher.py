"""Probe: would cheaper arithmetic keep the teacher the same model? int8 is the lead the last rewrites profile left
(fbgemm's int8 GEMM ran a prefill-sized product at 288 against fp32's 149 GFLOP/s on the EPYC). Not a sgen
option: this measures whether one is worth building.

    python -m bench.probe_int8_teacher [--prompts 64]

The fp32 SmolLM2 samples a rewrite for each prompt (the rewrites workload of bench_teacher); every variant then
reads the same prompt + rewrite, and each rewrite position compares its next-token distribution with fp32's:
top-1 agreement and mean KL(fp32, variant). bf16 is the yardstick: it is what `dtype: auto` runs on a CPU with
AVX512-BF16, so sgen already treats its answers as the same teacher's.
- int8 W8A8: weights int8 per output channel, activations int8 per row (each row scaled to [-1, 1] and an anchor
  row appended, so fbgemm's per-tensor quantization is the same for every batch and a row's output does not
  depend on its batch). fbgemm on AVX2 quantizes activations to 7 bits (reduce_range) to avoid int16 overflow.
- fake-quantized variants (the rounding only, in fp32 arithmetic): weights int8 alone (a fast weight-only int8
  kernel would need it; torch's CPU one ran at 2 GFLOP/s here), activations int8 alone with 8 bits (a VNNI CPU
  needs no reduce_range).
"""
from __future__ import annotations

import argparse
import copy

import torch
from torch import nn

from bench.common import table, write_result


class RowInt8Linear(nn.Module):
    """W8A8 through fbgemm's dynamic int8 linear, with per-row activation scales (see the module docstring)."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        w = linear.weight.detach().float()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        scale = (w.abs().amax(1) / 127).clamp_min(1e-12).double()
        qw = torch.quantize_per_channel(w, scale, torch.zeros_like(scale, dtype=torch.long), 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(qw, None)
        self.bias = None if linear.bias is None else linear.bias.detach().float()
        self.anchor = torch.zeros(1, self.in_features)
        self.anchor[0, 0], self.anchor[0, -1] = 1.0, -1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)
        s = rows.abs().amax(1, keepdim=True).clamp_min(1e-30)
        y = torch.ops.quantized.linear_dynamic(torch.cat([rows / s, self.anchor]), self.packed, True)[:-1] * s
        y = y if self.bias is None else y + self.bias
        return y.reshape(*x.shape[:-1], self.out_features)


class FakeQuantLinear(nn.Module):
    """nn.Linear with int8 rounding of the weights (per output channel) and/or the activations (per row,
    asymmetric), computed in fp32."""

    def __init__(self, linear: nn.Linear, weights: bool, activation_bits: int) -> None:
        super().__init__()
        w = linear.weight.detach().float()
        if weights:
            s = w.abs().amax(1, keepdim=True).clamp_min(1e-12) / 127
            w = (w / s).round().clamp(-127, 127) * s
        self.weight, self.bias, self.bits = w, linear.bias, activation_bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bits:
            hi, lo = x.amax(-1, keepdim=True).clamp_min(0), x.amin(-1, keepdim=True).clamp_max(0)
            levels = 2**self.bits - 1
            s = ((hi - lo) / levels).clamp_min(1e-12)
            zero = (-lo / s).round()
            x = ((x / s).round() + zero).clamp(0, levels).sub(zero) * s
        return nn.functional.linear(x, self.weight, self.bias)


def swapped(model: nn.Module, make) -> nn.Module:
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                setattr(parent, name, make(child))
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(2)
    from bench.bench_teacher import teacher, workload

    prompts, params, seeds = workload("rewrites", args.prompts)
    t = teacher("float32", engine="continuous", batch_size=128)
    tok, base = t.tokenizer, t.model
    rewrites = [c.text for c in t.generate(prompts, params, seeds)]
    rendered = [t.render(p) for p in prompts]
    tok.padding_side = "right"
    enc = tok([r + w for r, w in zip(rendered, rewrites, strict=True)], add_special_tokens=False,
              return_tensors="pt", padding=True)
    starts = [len(tok(r, add_special_tokens=False)["input_ids"]) for r in rendered]
    ends = enc["attention_mask"].sum(1).tolist()
    # Positions whose next token is a rewrite token: from the last prompt token to the one before the last token.
    where = torch.zeros_like(enc["attention_mask"], dtype=torch.bool)
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        where[i, s - 1 : e - 1] = True

    def logits(model: nn.Module) -> torch.Tensor:
        with torch.inference_mode():
            # Only the rewrite positions are kept: all of them would be 64 x 150 x 49k floats (1.9 GB) a variant.
            out = [model(input_ids=enc["input_ids"][i : i + 16], attention_mask=enc["attention_mask"][i : i + 16])
                   .logits[where[i : i + 16]].float() for i in range(0, len(prompts), 16)]
        return torch.cat(out)

    ref = logits(base)
    p = torch.log_softmax(ref, -1)
    variants = {
        "bf16 (what auto runs on a bf16 CPU)": lambda: copy.deepcopy(base).to(torch.bfloat16),
        "int8 W8A8, fbgemm, 7-bit activations per row": lambda: swapped(base, RowInt8Linear),
        "int8 weights only (fake-quantized)": lambda: swapped(base, lambda m: FakeQuantLinear(m, True, 0)),
        "int8 activations per row, 8 bits (fake-quantized)": lambda: swapped(base, lambda m: FakeQuantLinear(
            m, False, 8)),
        "W8A8, 8-bit activations (fake-quantized)": lambda: swapped(base, lambda m: FakeQuantLinear(m, True, 8)),
    }
    rows = []
    for name, build in variants.items():
        lg = logits(build())
        q = torch.log_softmax(lg, -1)
        rows.append([name, f"{(lg.argmax(-1) == ref.argmax(-1)).float().mean().item():.3f}",
                     f"{(p.exp() * (p - q)).sum(-1).mean().item():.4f}"])
    body = table(["arithmetic", "top-1 agreement with fp32", "mean KL(fp32, it), nats"], rows)
    notes = (f"{int(where.sum())} rewrite positions of {len(prompts)} prompts (SmolLM2-135M, fp32 rewrites sampled "
             "at T 0.8, top-p 0.95). Speed, measured apart: the W8A8 layers ran the continuous engine on 128 "
             "rewrites 1.1-1.3x faster than fp32 F.linear (alternating runs, 26-31 s against 34-35 s), 13% of it in "
             "the per-row scaling around fbgemm's call.")
    path = write_result("probe_int8_teacher", "Probe: int8 teacher arithmetic against fp32 (SmolLM2-135M, CPU)",
                        f"python -m bench.probe_int8_teacher --prompts {args.prompts}", body, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
