"""Teacher LoRA fine-tuning on a CPU (Kaddour & Liu's first step): torch's dropout against the bit-mask dropout
(`teacher.finetune.fast_dropout`), same seed pairs, same settings, one run.

    python -m bench.bench_teacher_finetune [--seed-size 25] [--steps 12] [--threads 2]

The settings are experiment=finetune_grid_cpu's (SmolLM2-135M, LoRA r 16 on all seven projections, dropout 0.05,
batch 8) on the tweet task's seed set; `--steps` optimizer steps (min_steps, one epoch each pass). Each
configuration runs in its own subprocess (its own peak memory) and trains into a temporary adapter folder.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import peak_rss_mb, table, write_result

ROOT = Path(__file__).resolve().parents[1]
FINETUNE = {"method": "lora", "r": 16, "alpha": 32, "dropout": 0.05, "epochs": 1, "batch_size": 8, "lr": 2.0e-4,
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}


def one(fast: bool, seed_size: int, steps: int, threads: int) -> dict:
    import torch

    from bench.bench_teacher import teacher
    from sgen.teachers.finetune import TeacherFinetune, finetune_teacher
    from tests.core.conftest import tweet_task

    torch.set_num_threads(threads)
    task = tweet_task(seed_size=seed_size)
    data = task.load(seed=0)
    settings = TeacherFinetune.from_config({**FINETUNE, "min_steps": steps, "fast_dropout": fast})
    t = teacher("auto")
    with tempfile.TemporaryDirectory() as adapters:
        report = finetune_teacher(t, task, data.seed, settings, adapters_dir=Path(adapters))
    return {"fast": fast, "steps": report.train_steps, "seconds": report.seconds,
            "loss_first": report.train_loss_first, "loss_final": report.train_loss_final, "pairs": report.n_pairs,
            "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed-size", type=int, default=25)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--one", choices=["0", "1"])
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one == "1", args.seed_size, args.steps, args.threads)))
        return
    common = ["--seed-size", str(args.seed_size), "--steps", str(args.steps), "--threads", str(args.threads)]
    results = []
    for fast in ("0", "1"):
        out = subprocess.run([sys.executable, "-m", "bench.bench_teacher_finetune", *common, "--one", fast],
                             capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
        results.append(json.loads(out.splitlines()[-1]))
    base = results[0]["seconds"] / results[0]["steps"]
    rows = [["bit-mask" if r["fast"] else "torch", r["pairs"], r["steps"], r["seconds"], r["seconds"] / r["steps"],
             base / (r["seconds"] / r["steps"]), r["loss_first"], r["loss_final"], r["peak_rss_mb"]]
            for r in results]
    body = table(["dropout", "seed pairs", "steps", "seconds (incl. saving the adapter)", "s/step", "x torch",
                  "loss first", "loss final", "peak RSS MB"], rows)
    notes = (f"SmolLM2-135M (the bundled GGUF, dtype auto), LoRA as experiment=finetune_grid_cpu (r 16, alpha 32, "
             f"dropout 0.05 on q/k/v/o/gate/up/down: 210 dropout masks per forward), batch 8, {args.steps} steps on "
             f"the tweet task's {args.seed_size} seed pairs; {args.threads} threads. Seconds are finetune_teacher's: "
             "training, saving and attaching the adapter.")
    command = " ".join(["python -m bench.bench_teacher_finetune", *common])
    path = write_result("teacher_finetune_dropout", "Teacher LoRA fine-tuning: torch's dropout vs bit-mask dropout "
                        "(CPU)", command, body, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
