"""Classifier student training throughput: the MiniLM student (conf/student/minilm.yaml) in fp32 (`32-true`) against
bf16 autocast (`bf16-mixed`), each with random and with length-grouped batches and torch's dropout, then grouped
batches with the CPU bit-mask dropout (`fast_dropout`), then those with padding-free passes (`unpad`: the linear
layers see only real tokens; the default), on the same tweets.

Each configuration runs in its own subprocess so its peak memory is its own.
    python -m bench.bench_student [--train 1000] [--test 1000] [--epochs 1] [--warmup-steps 3]
                                  [--precisions 32-true,bf16-mixed]

Train set: 100 seed + 900 pool tweets with their gold labels (the tweet task); test set: the task's 1,000 agreed
tweets. Throughput counts examples over the optimizer steps after the warm-up ones (data loading included: the
clock runs from one step's end to the next). Target: bf16-mixed >= 1.8x fp32 on a CPU with AVX512-BF16 / AMX.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytorch_lightning as pl

from bench.common import peak_rss_mb, table, write_result

ROOT = Path(__file__).resolve().parents[1]
# (precision, length-grouped batches, bit-mask dropout, padding-free passes)
CONFIGS = [("32-true", False, False, False), ("32-true", True, False, False), ("32-true", True, True, False),
           ("32-true", True, True, True), ("bf16-mixed", False, False, False), ("bf16-mixed", True, False, False),
           ("bf16-mixed", True, True, False), ("bf16-mixed", True, True, True)]
TARGET = 1.8


class StepClock(pl.Callback):
    """Wall and CPU seconds between consecutive optimizer-step ends, with each step's examples and tokens."""

    def __init__(self) -> None:
        self.steps: list[dict] = []
        self._last: tuple[float, float] | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._last is None:
            self._last = (time.perf_counter(), time.process_time())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = (time.perf_counter(), time.process_time())
        mask = batch["attention_mask"]
        self.steps.append({"wall": now[0] - self._last[0], "cpu": now[1] - self._last[1], "examples": len(mask),
                           "padded_tokens": int(mask.numel()), "real_tokens": int(mask.sum())})
        self._last = now


def _data(n_train: int, n_test: int):
    from sgen.records import Example
    from tests.core.conftest import tweet_task

    data = tweet_task(seed_size=min(100, n_train), unlabeled_size=max(n_train - 100, 0), test_size=n_test).load(seed=0)
    pool = [Example(e.id, e.text, data.hidden_gold[e.id]) for e in data.unlabeled]
    return data.seed + pool, data.test, data.labels


def _student(precision: str, grouped: bool, fast_dropout: bool, unpad: bool, epochs: int):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(ROOT / "conf" / "student" / "minilm.yaml")
    cfg.merge_with({"precision": precision, "group_by_length": grouped, "fast_dropout": fast_dropout,
                    "unpad": unpad, "epochs": epochs, "min_steps": 0, "progress": False, "accelerator": "cpu"})
    return instantiate(cfg)


def one(precision: str, grouped: bool, fast_dropout: bool, unpad: bool, args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    train, test, labels = _data(args.train, args.test)
    clock = StepClock()
    result = _student(precision, grouped, fast_dropout, unpad, args.epochs).train_and_evaluate(
        train, test, labels, seed=0, callbacks=[clock])
    timed = clock.steps[args.warmup_steps:]
    if not timed:
        raise SystemExit(f"no timed steps: {len(clock.steps)} steps, {args.warmup_steps} warm-up; raise --train")
    examples = sum(s["examples"] for s in timed)
    return {"precision": result.precision, "grouped": grouped, "fast_dropout": fast_dropout, "unpad": unpad,
            "steps": len(clock.steps), "timed_steps": len(timed), "ex_per_s": examples / sum(s["wall"] for s in timed),
            "ex_per_cpu_s": examples / sum(s["cpu"] for s in timed),
            "padding": 1 - sum(s["real_tokens"] for s in clock.steps) / sum(s["padded_tokens"] for s in clock.steps),
            "eval_ex_per_s": len(test) / result.seconds_eval, "seconds_train": result.seconds_train,
            "accuracy": result.scores["accuracy"], "peak_rss_mb": peak_rss_mb()}


def _speedups(results: list[dict]) -> list[str]:
    by = {(r["precision"], r["grouped"], r["fast_dropout"], r["unpad"]): r for r in results}
    lines = []
    for grouped, fast, unpad in ((False, False, False), (True, False, False), (True, True, False), (True, True, True)):
        fp32, bf16 = by.get(("32-true", grouped, fast, unpad)), by.get(("bf16-mixed", grouped, fast, unpad))
        if fp32 and bf16:
            wall, cpu = bf16["ex_per_s"] / fp32["ex_per_s"], bf16["ex_per_cpu_s"] / fp32["ex_per_cpu_s"]
            verdict = "met" if min(wall, cpu) >= TARGET else "not met"
            lines.append(f"bf16-mixed / fp32 with {'grouped' if grouped else 'random'} batches, "
                         f"{'bit-mask' if fast else 'torch'} dropout{', padding-free' if unpad else ''}: "
                         f"{wall:.2f}x wall, {cpu:.2f}x CPU "
                         f"(target >= {TARGET}x: {verdict}).")
    for precision in ("32-true", "bf16-mixed"):
        torch_drop, fast = by.get((precision, True, False, False)), by.get((precision, True, True, False))
        if torch_drop and fast:
            lines.append(f"{precision}, grouped: bit-mask dropout / torch's dropout "
                         f"{fast['ex_per_s'] / torch_drop['ex_per_s']:.2f}x wall.")
        unpadded = by.get((precision, True, True, True))
        if fast and unpadded:
            lines.append(f"{precision}, grouped, bit-mask dropout: padding-free / padded "
                         f"{unpadded['ex_per_s'] / fast['ex_per_s']:.2f}x wall training, "
                         f"{unpadded['eval_ex_per_s'] / fast['eval_ex_per_s']:.2f}x evaluation.")
    old = by.get(("32-true", False, False, False))
    new = by.get(("bf16-mixed", True, True, True)) or by.get(("32-true", True, True, True))
    if old and new:
        lines.append(f"The default ({new['precision']}, grouped, bit-mask dropout, padding-free) against the old "
                     f"default (fp32, random batches, torch's dropout): {new['ex_per_s'] / old['ex_per_s']:.2f}x wall.")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=1000, help="training examples: 100 seed + the rest from the pool")
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--warmup-steps", type=int, default=3, help="optimizer steps left out of the timing")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--precisions", default="32-true,bf16-mixed",
                    help="32-true alone on a CPU without native bf16, where bf16 is emulated and slow")
    ap.add_argument("--one", nargs=4, metavar=("PRECISION", "GROUPED", "FAST_DROPOUT", "UNPAD"))
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], *(flag == "1" for flag in args.one[1:]), args)))
        return
    common = ["--train", str(args.train), "--test", str(args.test), "--epochs", str(args.epochs),
              "--warmup-steps", str(args.warmup_steps), "--threads", str(args.threads)]
    results = []
    precisions = args.precisions.split(",")
    for precision, *flags in CONFIGS:
        if precision not in precisions:
            continue
        cmd = [sys.executable, "-m", "bench.bench_student", *common, "--one", precision,
               *(str(int(flag)) for flag in flags)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
        results.append(json.loads(out.splitlines()[-1]))
    base = results[0]["ex_per_s"]
    rows = [[r["precision"], "grouped" if r["grouped"] else "random", "bit-mask" if r["fast_dropout"] else "torch",
             "padding-free" if r["unpad"] else "padded", r["timed_steps"], r["ex_per_s"],
             r["ex_per_cpu_s"], r["ex_per_s"] / base, f"{100 * r['padding']:.0f}%", r["eval_ex_per_s"],
             r["accuracy"], r["peak_rss_mb"]] for r in results]
    body = table(["precision", "batches", "dropout", "pass", "timed steps", "train ex/s", "train ex/CPU-s", "x fp32 random",
                  "padding", "eval ex/s", "accuracy", "peak RSS MB"], rows)
    cmd = " ".join(["python -m bench.bench_student", *common, "--precisions", args.precisions])
    notes = (f"all-MiniLM-L6-v2 + linear head (conf/student/minilm.yaml: batch 32, max_length 64), {args.epochs} "
             f"epoch(s) on {args.train} tweets (100 seed + pool tweets with gold labels), evaluated on {args.test}; "
             f"{args.threads} threads. Throughput over the steps after {args.warmup_steps} warm-up steps, data "
             "loading included; padding is the share of padded positions over all training batches (a padding-free "
             "pass skips them in all but attention). Accuracy after "
             "so short a run is a sanity check, not a parity measure (bench/check_bf16_parity.py is).\n\n"
             + "\n".join(_speedups(results)))
    name = "student_throughput" if precisions == ["32-true", "bf16-mixed"] else "student_throughput_fp32"
    path = write_result(name, "Classifier student throughput (MiniLM, " + " vs ".join(precisions) + ", CPU)",
                        cmd, body, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
