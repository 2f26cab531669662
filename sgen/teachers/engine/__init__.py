"""Local generation engines for the hf teacher: continuous batching with shared-prefix reuse (the default), and
the static batched `model.generate` loop it replaced (kept as a fallback and as the benchmark baseline)."""
from sgen.teachers.engine.batcher import ContinuousBatcher
from sgen.teachers.engine.sampling import DEFAULT_TOP_K, SamplingSettings, next_tokens
from sgen.teachers.engine.support import continuous_unsupported, sampling_settings

__all__ = ["DEFAULT_TOP_K", "ContinuousBatcher", "SamplingSettings", "continuous_unsupported", "next_tokens",
           "sampling_settings"]
