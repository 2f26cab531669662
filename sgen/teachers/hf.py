"""Local transformers backend: chat template, left-padded batches sorted by length, sampling, bf16."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

from sgen.devices import resolve_device, resolve_dtype
from sgen.models import ModelSource, materialize, resolve_model
from sgen.records import Completion, GenerationParams, Messages
from sgen.teachers.base import Teacher

log = logging.getLogger(__name__)


class HFTeacher(Teacher):
    """A transformers causal LM. `model` is a hub id, local dir or .gguf path; a bundled copy wins if installed."""

    def __init__(
        self,
        model: str,
        bundled_package: str | None = None,
        bundled_path: str | None = None,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int = 16,
        revision: str | None = None,
        prebuilt: tuple[Any, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.revision = revision
        self.source = resolve_model(model, bundled_package, bundled_path) if prebuilt is None else ModelSource(model)
        # The cache key names the weights, not where they were found: a bundled copy equals its hub original.
        self.model_id = name or model
        self._model, self._tokenizer = prebuilt if prebuilt is not None else (None, None)
        self._ready = False

    def load(self) -> None:
        if self._ready:
            return
        if self._model is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            path = materialize(self.source)
            log.info("loading teacher %s from %s (%s, %s)", self.model_id, path, self.device, self.dtype)
            self._tokenizer = AutoTokenizer.from_pretrained(path, revision=self.revision)
            self._model = AutoModelForCausalLM.from_pretrained(path, revision=self.revision, dtype=self.dtype)
        self._model.to(device=self.device, dtype=self.dtype).eval()
        tok = self._tokenizer
        tok.padding_side = "left"  # decoder-only generation continues from the right edge
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        self._ready = True

    @property
    def tokenizer(self):
        self.load()
        return self._tokenizer

    @property
    def model(self):
        self.load()
        return self._model

    def set_model(self, model) -> None:
        """Swap in other weights of the same tokenizer (e.g. the base model after a LoRA adapter was removed)."""
        self._model = model.to(device=self.device).eval()

    def attach_adapter(self, path: str, tag: str) -> None:
        """Load a PEFT LoRA adapter and merge it, so generation runs at the base model's speed; model_id names the
        adapter, so query-cache keys and sampling seeds differ from the base teacher's."""
        from peft import PeftModel

        self.load()
        merged = PeftModel.from_pretrained(self._model, path).merge_and_unload()
        self._model = merged.to(device=self.device, dtype=self.dtype).eval()
        self.model_id = f"{self.model_id}+lora-{tag}"
        log.info("teacher %s: adapter %s attached and merged", self.model_id, path)

    def render(self, prompt: Messages) -> str:
        return self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)

    @torch.inference_mode()
    def generate(self, prompts: Sequence[Messages], params: GenerationParams, seed: int = 0) -> list[Completion]:
        self.load()
        texts = [self.render(p) for p in prompts]
        lengths = [len(self._tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        # Similar lengths share a batch: less padding, fewer wasted FLOPs.
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        torch.manual_seed(seed)
        results: list[Completion | None] = [None] * len(texts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            for i, completion in zip(idx, self._generate_batch([texts[i] for i in idx], params), strict=True):
                results[i] = completion
        return results  # type: ignore[return-value]

    def _generate_batch(self, texts: list[str], params: GenerationParams) -> list[Completion]:
        tok = self._tokenizer
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        sampling = dict(do_sample=True, temperature=params.temperature, top_p=params.top_p) if params.do_sample \
            else dict(do_sample=False, temperature=None, top_p=None, top_k=None)
        out = self._model.generate(**enc, max_new_tokens=params.max_new_tokens, pad_token_id=tok.pad_token_id,
                                   eos_token_id=tok.eos_token_id, **sampling)
        new = out[:, enc["input_ids"].shape[1]:]
        prompt_tokens = enc["attention_mask"].sum(dim=1).tolist()
        completions = []
        for row, n_prompt in zip(new.tolist(), prompt_tokens, strict=True):
            n_new = row.index(tok.eos_token_id) + 1 if tok.eos_token_id in row else len(row)
            text = tok.decode(row[:n_new], skip_special_tokens=True).strip()
            completions.append(Completion(text=text, prompt_tokens=int(n_prompt), completion_tokens=n_new))
        return completions


def tiny_teacher(arch: str = "llama", hidden_size: int = 32, layers: int = 2, seed: int = 0,
                 batch_size: int = 16, labels: Sequence[str] = ()) -> HFTeacher:
    """An HFTeacher over a tiny random model built in-process; label words are whole tokens so some parse."""
    from sgen.tiny import tiny_causal_lm

    model, tokenizer = tiny_causal_lm(arch, hidden_size, layers, seed, extra_words=tuple(labels))
    return HFTeacher(model=f"tiny-{arch}-{hidden_size}x{layers}-s{seed}", prebuilt=(model, tokenizer),
                     dtype="float32", device="cpu", batch_size=batch_size)
