"""Local transformers backend: chat template, continuous batching with shared-prefix reuse, per-query sampling
streams, bf16. `engine=static` keeps the older batched `model.generate` loop."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

from sgen.devices import resolve_device, resolve_dtype
from sgen.models import ModelSource, materialize, resolve_model
from sgen.records import Completion, GenerationParams, Messages
from sgen.teachers.base import ResultHook, Teacher, checked_price, default_seeds
from sgen.teachers.engine import ContinuousBatcher, continuous_unsupported, sampling_settings
from sgen.teachers.engine.static_batch import generate_static

ENGINES = ("auto", "continuous", "static")

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
        engine: str = "auto",
        prefix_cache_tokens: int = 16384,
        kv_cache_mb: float = 1024,
        pack_weights: bool = True,
        price_per_million_prompt_tokens: float = 0.0,
        price_per_million_completion_tokens: float = 0.0,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"teacher.backend.engine={engine!r} is not valid; valid: {', '.join(ENGINES)}")
        if batch_size < 1:
            raise ValueError(f"teacher.backend.batch_size must be >= 1, got {batch_size}")
        # Local weights cost no money per query; a price (what a GPU-hour buys, per million tokens) lets a dollar
        # budget compare them with an API at equal cost.
        self.price = checked_price(price_per_million_prompt_tokens, price_per_million_completion_tokens)
        self.engine = engine
        self.prefix_cache_tokens = prefix_cache_tokens
        self.kv_cache_mb = kv_cache_mb
        self.pack_weights = pack_weights
        self._batcher: ContinuousBatcher | None = None
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.revision = revision
        self.source = (resolve_model(model, bundled_package, bundled_path, "backend.model") if prebuilt is None
                       else ModelSource(model))
        # The cache key names the weights, not where they were found: a bundled copy equals its hub original.
        self.model_id = self._base_id = name or model
        self._model, self._tokenizer = prebuilt if prebuilt is not None else (None, None)
        self._prebuilt = prebuilt is not None
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
        self._start_engine()

    def close(self) -> None:
        """Drop the engine (its KV cache and stored prefixes) and the weights this teacher loaded itself; a prebuilt
        model belongs to its caller and stays. A later load() reads the base weights again, adapter-free."""
        self._batcher = None
        self._ready = False
        if not self._prebuilt:
            self._model = self._tokenizer = None
            self.model_id = self._base_id

    def _start_engine(self) -> None:
        """The continuous engine when it reproduces this model's `generate` (see engine/support.py), else static."""
        self._batcher = None
        if self.engine == "static":
            return
        reason = continuous_unsupported(self._model)
        if reason is not None:
            if self.engine == "continuous":
                raise ValueError(f"teacher.backend.engine=continuous cannot run {self.model_id}: {reason}; use "
                                 f"teacher.backend.engine=static or auto")
            log.info("teacher %s: static batching (%s)", self.model_id, reason)
            return
        eos = {self._tokenizer.eos_token_id}
        configured = getattr(self._model.generation_config, "eos_token_id", None)
        eos |= set(configured) if isinstance(configured, (list, tuple)) else {configured} if configured is not None \
            else set()
        self._batcher = ContinuousBatcher(self._model, sorted(e for e in eos if e is not None),
                                          self._tokenizer.pad_token_id, self.batch_size, self.prefix_cache_tokens,
                                          kv_cache_mb=self.kv_cache_mb, pack_weights=self.pack_weights)

    @property
    def engine_name(self) -> str:
        """The engine that runs now: continuous or static."""
        self.load()
        return "continuous" if self._batcher is not None else "static"

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
        self._start_engine()  # stored prefixes belong to the old weights

    def attach_adapter(self, path: str, tag: str) -> None:
        """Load a PEFT LoRA adapter and merge it, so generation runs at the base model's speed; model_id names the
        adapter, so query-cache keys and sampling seeds differ from the base teacher's."""
        from peft import PeftModel

        self.load()
        merged = PeftModel.from_pretrained(self._model, path).merge_and_unload()
        self._model = merged.to(device=self.device, dtype=self.dtype).eval()
        self._start_engine()
        self.model_id = f"{self.model_id}+lora-{tag}"
        log.info("teacher %s: adapter %s attached and merged", self.model_id, path)

    def render(self, prompt: Messages) -> str:
        return self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)

    def generate(self, prompts: Sequence[Messages], params: GenerationParams,
                 seeds: Sequence[int] | None = None, on_result: ResultHook | None = None) -> list[Completion]:
        self.load()
        seeds = default_seeds(prompts, seeds)
        tok = self._tokenizer
        ids = [tok(self.render(p), add_special_tokens=False)["input_ids"] for p in prompts]
        results: list[Completion | None] = [None] * len(ids)

        def finished(i: int, out: list[int]) -> None:
            results[i] = Completion(text=tok.decode(out, skip_special_tokens=True).strip(), prompt_tokens=len(ids[i]),
                                    completion_tokens=len(out))
            if on_result is not None:
                on_result(i, results[i])

        if self._batcher is not None:
            # Each query samples from its own stream: its text does not depend on its batch or schedule.
            generators = [torch.Generator(device=self.device).manual_seed(s) for s in seeds] if params.do_sample \
                else [None] * len(ids)
            self._batcher.run(ids, params.max_new_tokens, sampling_settings(self._model, params), generators,
                              on_finish=finished)
        else:
            generate_static(self._model, tok, ids, params, self.batch_size, seeds, on_finish=finished)
        return results  # type: ignore[return-value]


def tiny_teacher(arch: str = "llama", hidden_size: int = 32, layers: int = 2, seed: int = 0,
                 batch_size: int = 16, labels: Sequence[str] = (), engine: str = "auto",
                 price_per_million_prompt_tokens: float = 0.0,
                 price_per_million_completion_tokens: float = 0.0) -> HFTeacher:
    """An HFTeacher over a tiny random model built in-process; label words are whole tokens so some parse."""
    from sgen.tiny import tiny_causal_lm

    model, tokenizer = tiny_causal_lm(arch, hidden_size, layers, seed, extra_words=tuple(labels))
    return HFTeacher(model=f"tiny-{arch}-{hidden_size}x{layers}-s{seed}", prebuilt=(model, tokenizer),
                     dtype="float32", device="cpu", batch_size=batch_size, engine=engine,
                     price_per_million_prompt_tokens=price_per_million_prompt_tokens,
                     price_per_million_completion_tokens=price_per_million_completion_tokens)
