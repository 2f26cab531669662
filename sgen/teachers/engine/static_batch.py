"""The static batched loop: prompts sorted by length, one `model.generate` per batch of them. A batch decodes until
its longest member ends, so short answers wait for long ones; kept for models the continuous engine does not
cover and as the baseline in bench/bench_teacher.py. Its samples depend on which prompts share a batch."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from sgen.records import GenerationParams


def generate_static(model, tokenizer, prompts: Sequence[Sequence[int]], params: GenerationParams, batch_size: int,
                    seeds: Sequence[int],
                    on_finish: Callable[[int, list[int]], None] | None = None) -> list[list[int]]:
    """Generated token ids per prompt, each cut after its first eos (included); `on_finish(i, ids)` per prompt as
    its batch ends."""
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    device = next(model.parameters()).device
    # One global seed for the call: the best a batched `generate` offers (see the module docstring).
    torch.manual_seed(hash(tuple(seeds)) & 0x7FFFFFFF)  # ints hash the same in every process
    sampling = dict(do_sample=True, temperature=params.temperature, top_p=params.top_p) if params.do_sample \
        else dict(do_sample=False, temperature=None, top_p=None, top_k=None)
    eos = tokenizer.eos_token_id
    results: list[list[int]] = [[] for _ in prompts]
    side, tokenizer.padding_side = tokenizer.padding_side, "left"  # decoders continue from the right edge
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer.pad({"input_ids": [list(prompts[i]) for i in idx]}, return_tensors="pt").to(device)
            out = model.generate(**enc, max_new_tokens=params.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=eos, **sampling)
            for i, row in zip(idx, out[:, enc["input_ids"].shape[1]:].tolist(), strict=True):
                results[i] = row[: row.index(eos) + 1] if eos in row else row
                if on_finish is not None:
                    on_finish(i, results[i])
    finally:
        tokenizer.padding_side = side
    return results
