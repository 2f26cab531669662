"""Seq2seq student (BART / T5 family through AutoModelForSeq2SeqLM): the encoder reads the prompt as plain text,
the decoder learns the completion. Same contract, training loop and scoring as the causal-LM student."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from sgen.models import materialize
from sgen.records import Messages
from sgen.students.generative import GenerativeStudent, greedy_by_length
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
    encoded = [tokenizer(flatten_prompt(p), truncation=True, max_length=max_length)["input_ids"] for p in prompts]
    return greedy_by_length(model, tokenizer, encoded, batch_size, "right", prompt_in_output=False,
                            max_new_tokens=max_new_tokens)
