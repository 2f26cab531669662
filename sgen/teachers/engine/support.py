"""Whether the continuous-batching engine reproduces a model's `generate` exactly, and the sampling it must use."""
from __future__ import annotations

from sgen.records import GenerationParams
from sgen.teachers.engine.sampling import DEFAULT_TOP_K, SamplingSettings

# Decoder-only families whose attention reads a 4-D mask, explicit position ids and Cache.update as llama does.
# llama (SmolLM2) and gpt2 are tested against model.generate; the others share llama's attention code.
SUPPORTED_MODEL_TYPES = frozenset({"llama", "gpt2", "mistral", "qwen2", "qwen3", "phi3", "granite", "olmo2"})
# Logits processors the engine does not implement: a model whose generation_config turns one on keeps the static
# engine, so its outputs mean what they meant before.
_NEUTRAL = {"repetition_penalty": (None, 1.0), "no_repeat_ngram_size": (None, 0), "min_length": (None, 0),
            "min_new_tokens": (None, 0), "bad_words_ids": (None,), "suppress_tokens": (None,),
            "begin_suppress_tokens": (None,), "typical_p": (None, 1.0), "epsilon_cutoff": (None, 0.0),
            "eta_cutoff": (None, 0.0), "min_p": (None,), "sequence_bias": (None,), "forced_bos_token_id": (None,),
            "forced_eos_token_id": (None,), "exponential_decay_length_penalty": (None,)}


def continuous_unsupported(model) -> str | None:
    """Why the continuous engine cannot stand in for this model's `generate`, or None when it can."""
    config = model.config
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        return f"model type {config.model_type!r} is not one of {sorted(SUPPORTED_MODEL_TYPES)}"
    if config._attn_implementation not in ("sdpa", "eager"):
        return f"attention implementation {config._attn_implementation!r} (the engine passes 4-D masks: sdpa, eager)"
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return "sliding-window attention"
    generation = getattr(model, "generation_config", None)
    for name, neutral in _NEUTRAL.items():
        value = getattr(generation, name, None)
        if value not in neutral:
            return f"generation_config.{name}={value!r}"
    return None


def sampling_settings(model, params: GenerationParams) -> SamplingSettings:
    """The sampling `generate` would do: temperature and top_p from the query, top_k from the model's
    generation_config (transformers' default 50 when unset)."""
    top_k = getattr(getattr(model, "generation_config", None), "top_k", None)
    return SamplingSettings(temperature=params.temperature if params.do_sample else 0.0, top_p=params.top_p,
                            top_k=DEFAULT_TOP_K if top_k is None else int(top_k))
