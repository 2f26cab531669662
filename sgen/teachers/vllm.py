"""vLLM's offline engine as teacher, for GPU nodes: continuous batching, tensor parallelism, paged KV cache.

`vllm` is imported only in `load()`, so choosing another backend never needs it installed. Prompts are rendered by
the model's chat template through `LLM.chat` (or a template given here); each prompt samples with its own seed
(from its query key), so the same prompt twice in a batch (majority voting) draws two samples.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sgen.records import Completion, GenerationParams, Messages
from sgen.teachers.base import ResultHook, Teacher, checked_price, default_seeds

log = logging.getLogger(__name__)

DTYPES = ("auto", "bfloat16", "float16", "float32", "half", "float")
INSTALL_HINT = "pip install vllm (Linux with a CUDA GPU; see https://docs.vllm.ai/en/latest/getting_started/installation/)"


class VLLMTeacher(Teacher):
    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        dtype: str = "auto",
        max_model_len: int | None = None,
        revision: str | None = None,
        chat_template: str | None = None,
        trust_remote_code: bool = False,
        enforce_eager: bool = False,
        engine_kwargs: dict[str, Any] | None = None,
        name: str | None = None,
        price_per_million_prompt_tokens: float = 0.0,
        price_per_million_completion_tokens: float = 0.0,
    ) -> None:
        if tensor_parallel_size < 1:
            raise ValueError(f"teacher.backend.tensor_parallel_size must be >= 1, got {tensor_parallel_size}")
        if not 0.0 < gpu_memory_utilization <= 1.0:
            raise ValueError(f"teacher.backend.gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
        if dtype not in DTYPES:
            raise ValueError(f"teacher.backend.dtype={dtype!r}; valid: {', '.join(DTYPES)}")
        if max_model_len is not None and max_model_len < 1:
            raise ValueError(f"teacher.backend.max_model_len must be >= 1 or null, got {max_model_len}")
        self.price = checked_price(price_per_million_prompt_tokens, price_per_million_completion_tokens)
        self.model = model
        self.engine_args: dict[str, Any] = {
            "model": model, "tensor_parallel_size": int(tensor_parallel_size),
            "gpu_memory_utilization": float(gpu_memory_utilization), "dtype": dtype, "revision": revision,
            "trust_remote_code": trust_remote_code, "enforce_eager": enforce_eager,
            **({"max_model_len": int(max_model_len)} if max_model_len else {}), **dict(engine_kwargs or {}),
        }
        self.chat_template = chat_template
        self.model_id = name or (f"{model}@{revision}" if revision else model)
        self._llm = None
        self._sampling_cls = None

    def close(self) -> None:
        """Stop the engine and give its GPU memory back (the student trains next on the same GPU)."""
        self._llm = None

    def load(self) -> None:
        if self._llm is not None:
            return
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise ImportError(f"teacher backend 'vllm' needs the vllm package, which is not installed ({exc}). "
                              f"Install it with: {INSTALL_HINT}; or choose teacher=hf (local transformers) or "
                              f"teacher=openai (a served model)") from exc
        log.info("starting vLLM engine for %s (tensor parallel %d, %.0f%% of GPU memory)", self.model,
                 self.engine_args["tensor_parallel_size"], 100 * self.engine_args["gpu_memory_utilization"])
        self._llm = LLM(**self.engine_args)
        self._sampling_cls = SamplingParams

    def sampling_params(self, params: GenerationParams, seed: int) -> Any:
        """One vllm.SamplingParams; greedy decoding is temperature 0 (top_p must then stay 1)."""
        greedy = not params.do_sample
        return self._sampling_cls(n=1, temperature=0.0 if greedy else params.temperature,
                                  top_p=1.0 if greedy else params.top_p, max_tokens=params.max_new_tokens, seed=seed)

    def generate(self, prompts: Sequence[Messages], params: GenerationParams,
                 seeds: Sequence[int] | None = None, on_result: ResultHook | None = None) -> list[Completion]:
        """`LLM.chat` returns the whole call at once, so `on_result` is not called."""
        if not prompts:
            return []
        self.load()
        sampling = [self.sampling_params(params, s) for s in default_seeds(prompts, seeds)]
        # LLM.chat applies the chat template, batches everything with continuous batching and keeps input order.
        outputs = self._llm.chat([list(p) for p in prompts], sampling_params=sampling, use_tqdm=False,
                                 chat_template=self.chat_template, add_generation_prompt=True)
        return [completion_from_output(out) for out in outputs]


def completion_from_output(output: Any) -> Completion:
    """A vllm RequestOutput -> Completion: the first sample's text, its token count and the prompt's."""
    sample = output.outputs[0]
    return Completion(text=sample.text.strip(), prompt_tokens=len(output.prompt_token_ids or []),
                      completion_tokens=len(sample.token_ids))
