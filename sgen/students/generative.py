"""Generative students: a causal LM fine-tuned on the task's (prompt, completion) pairs, scored by greedy generation.

The task scores the generated texts (`task.evaluate`): GSM8K by exact match of the final number; a classification
task parses each text to a label, so these students learn either kind.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import torch

from sgen.models import materialize, resolve_model
from sgen.records import Example, Messages
from sgen.students.base import Student, StudentResult
from sgen.students.settings import LoRASettings, TrainSettings
from sgen.students.sft import FINETUNE_METHODS, apply_finetune, causal_features, fit_sft, render_prompt

log = logging.getLogger(__name__)


class GenerativeStudent(Student):
    """Settings of a causal-LM student; `train_and_evaluate` builds a fresh model each time, so runs never share
    weights. `finetune` is "lora" (PEFT, `lora` settings) or "full"; `lora: null` also means full fine-tuning."""

    task_type = "CAUSAL_LM"
    kinds = ("classification", "generation")

    def __init__(self, model: str, bundled_package: str | None = None, bundled_path: str | None = None,
                 finetune: str = "lora", lora: dict | None = None, max_length: int = 512, batch_size: int = 8,
                 grad_accum: int = 1, lr: float = 2e-4, epochs: int = 3, min_steps: int = 0,
                 weight_decay: float = 0.0, warmup_ratio: float = 0.03, precision: str = "auto",
                 accelerator: str = "auto", eval_batch_size: int = 32, max_new_tokens: int = 256,
                 fast_dropout: bool = False, progress: bool = True, tiny: dict | None = None) -> None:
        finetune = "full" if lora is None else finetune
        if finetune not in FINETUNE_METHODS:
            raise ValueError(f"student.finetune={finetune!r} is not valid; valid: {', '.join(FINETUNE_METHODS)}")
        self.model = model
        self.source = None if tiny is not None else resolve_model(model, bundled_package, bundled_path,
                                                                  "student.model")
        self.tiny = dict(tiny) if tiny is not None else None
        self.finetune = finetune
        self.lora = LoRASettings.from_config(lora) if finetune == "lora" else None
        self.max_length, self.eval_batch_size, self.max_new_tokens = max_length, eval_batch_size, max_new_tokens
        self.fast_dropout = fast_dropout
        self.train_settings = TrainSettings(epochs=epochs, min_steps=min_steps, batch_size=batch_size,
                                            grad_accum=grad_accum, lr=lr, weight_decay=weight_decay,
                                            warmup_ratio=warmup_ratio, precision=precision,
                                            accelerator=accelerator, progress=progress).checked("student")

    def fingerprint(self) -> dict[str, Any]:
        """Settings that change the trained model (for the seed-only score cache)."""
        train = {k: v for k, v in self.train_settings.__dict__.items() if k not in ("progress", "accelerator")}
        train["precision"] = self.train_settings.resolved_precision
        return {"kind": type(self).__name__, "model": self.model, "tiny": self.tiny, "finetune": self.finetune,
                "lora": self.lora.__dict__ if self.lora else None, "max_length": self.max_length,
                "max_new_tokens": self.max_new_tokens, "fast_dropout": self.fast_dropout, **train}

    # -- the model -------------------------------------------------------------------------------------------------
    def build(self):
        """(model, tokenizer), fresh weights; float32 (mixed precision autocasts, bf16-true converts)."""
        if self.tiny is not None:
            from sgen.tiny import tiny_causal_lm

            return tiny_causal_lm(**self.tiny)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = materialize(self.source)
        tokenizer = AutoTokenizer.from_pretrained(path)
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), tokenizer

    def features(self, tokenizer, pairs: Sequence[tuple[Messages, str]]) -> list[dict[str, list[int]]]:
        return causal_features(tokenizer, pairs, self.max_length)

    def generate(self, model, tokenizer, prompts: Sequence[Messages], batch_size: int | None = None) -> list[str]:
        return generate_causal(model, tokenizer, prompts, batch_size or self.eval_batch_size, self.max_new_tokens)

    def prepare(self, seed: int):
        """A fresh (trainable model, tokenizer) pair: LoRA-wrapped or fully trainable."""
        torch.manual_seed(seed)
        model, tokenizer = self.build()
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return apply_finetune(model, self.finetune, self.lora, self.task_type, self.fast_dropout), tokenizer

    def eval_device(self) -> torch.device:
        accelerator = self.train_settings.accelerator
        wants_gpu = accelerator in ("auto", "gpu", "cuda")
        return torch.device("cuda" if wants_gpu and torch.cuda.is_available() else "cpu")

    # -- the student contract --------------------------------------------------------------------------------------
    def train_and_evaluate(self, train: Sequence[Example], test: Sequence[Example], labels: Sequence[str],
                           seed: int, loggers: list | None = None, task=None,
                           callbacks: list | None = None) -> StudentResult:
        """Fine-tune a fresh model on the task's SFT pairs of `train`, then score greedy answers on `test`."""
        if task is None:
            raise ValueError(f"{type(self).__name__} needs the task (its sft_pairs and score); got task=None")
        model, tokenizer = self.prepare(seed)
        fit = fit_sft(model, self.features(tokenizer, task.sft_pairs(train)), tokenizer.pad_token_id,
                      self.train_settings, seed, loggers, callbacks)
        t0 = time.perf_counter()
        model.to(self.eval_device())  # Lightning's teardown leaves the trained model on the CPU
        pairs = task.sft_pairs(test)
        predictions = self.generate(model, tokenizer, [p for p, _ in pairs])
        scores = task.evaluate(predictions, test)
        per_epoch = math.ceil(len(train) / self.train_settings.batch_size)
        return StudentResult(scores=scores, train_steps=fit.steps, train_loss_final=fit.loss_final(per_epoch),
                             precision=self.train_settings.resolved_precision, seconds_train=fit.seconds,
                             seconds_eval=time.perf_counter() - t0, train_loss_first=fit.loss_first,
                             train_tokens=fit.tokens)


@torch.inference_mode()
def generate_causal(model, tokenizer, prompts: Sequence[Messages], batch_size: int, max_new_tokens: int) -> list[str]:
    """Greedy completions with left padding (a decoder continues from the right edge); the output repeats the
    prompt, which is cut off. Returns the text up to the first eos, in the order of `prompts`."""
    encoded = [tokenizer(render_prompt(tokenizer, p), add_special_tokens=False)["input_ids"] for p in prompts]
    return greedy_by_length(model, tokenizer, encoded, batch_size, "left", prompt_in_output=True,
                            max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                            eos_token_id=tokenizer.eos_token_id)


def greedy_by_length(model, tokenizer, encoded: list[list[int]], batch_size: int, padding_side: str,
                     prompt_in_output: bool, **generate_kwargs: Any) -> list[str]:
    """Greedy decoding of token-id prompts in batches of similar length (little padding), in the caller's order.
    Causal LMs echo the prompt (`prompt_in_output`); encoder-decoders start with one decoder start token."""
    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    device = next(model.parameters()).device
    side, tokenizer.padding_side = tokenizer.padding_side, padding_side
    results: list[str] = [""] * len(encoded)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt").to(device)
            out = model.generate(**enc, do_sample=False, num_beams=1, temperature=None, top_p=None, top_k=None,
                                 **generate_kwargs)
            skip = enc["input_ids"].shape[1] if prompt_in_output else 1
            for i, row in zip(idx, out[:, skip:].tolist(), strict=True):
                results[i] = decode_until_eos(tokenizer, row)
    finally:
        tokenizer.padding_side = side
    return results


def decode_until_eos(tokenizer, ids: list[int]) -> str:
    if tokenizer.eos_token_id in ids:
        ids = ids[: ids.index(tokenizer.eos_token_id)]
    return tokenizer.decode(ids, skip_special_tokens=True).strip()
