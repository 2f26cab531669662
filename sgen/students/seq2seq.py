"""Seq2seq student (BART / T5 family through AutoModelForSeq2SeqLM): the encoder reads the prompt as plain text,
the decoder learns the completion. Same contract, training loop and scoring as the causal-LM student."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from sgen.models import materialize
from sgen.records import Messages
from sgen.students.generative import GenerativeStudent, decode_until_eos
from sgen.students.sft import flatten_prompt, seq2seq_features


class Seq2SeqStudent(GenerativeStudent):
    task_type = "SEQ_2_SEQ_LM"

    def build(self):
        if self.tiny is not None:
            from sgen.tiny import tiny_seq2seq

            return tiny_seq2seq(**self.tiny)
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        path = materialize(self.source)
        return AutoModelForSeq2SeqLM.from_pretrained(path, dtype=torch.float32), AutoTokenizer.from_pretrained(path)

    def features(self, tokenizer, pairs: Sequence[tuple[Messages, str]]) -> list[dict[str, list[int]]]:
        return seq2seq_features(tokenizer, pairs, self.max_length)

    def generate(self, model, tokenizer, prompts: Sequence[Messages], batch_size: int | None = None) -> list[str]:
        return generate_seq2seq(model, tokenizer, prompts, batch_size or self.eval_batch_size, self.max_new_tokens,
                                self.max_length)


@torch.inference_mode()
def generate_seq2seq(model, tokenizer, prompts: Sequence[Messages], batch_size: int, max_new_tokens: int,
                     max_length: int) -> list[str]:
    """Greedy decoding, batched; the encoder is bidirectional, so right padding under the mask is harmless."""
    model.eval()
    texts = [flatten_prompt(p) for p in prompts]
    encoded = [tokenizer(t, truncation=True, max_length=max_length)["input_ids"] for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    device = next(model.parameters()).device
    side, tokenizer.padding_side = tokenizer.padding_side, "right"
    results: list[str] = [""] * len(texts)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt").to(device)
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                 temperature=None, top_p=None, top_k=None)
            for i, row in zip(idx, out[:, 1:].tolist(), strict=True):  # drop the decoder start token
                results[i] = decode_until_eos(tokenizer, row)
    finally:
        tokenizer.padding_side = side
    return results
