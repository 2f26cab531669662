"""Device and dtype choices that are right on a CPU laptop and on a GPU cluster alike."""
from __future__ import annotations

import logging
import platform
from functools import lru_cache

import torch

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
           "float16": torch.float16, "fp16": torch.float16}


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """'auto': bf16 on bf16 GPUs (fp16 on older ones) and on CPUs that compute bf16 in hardware
    (cpu_has_native_bf16), fp32 on other CPUs, bf16 on other devices. A CPU without it emulates bf16: on an
    AVX2-only AMD Zen 3 (2 threads) a bf16 linear layer ran at 18 GFLOP/s against fp32's 130-150."""
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "cpu":
            native = cpu_has_native_bf16()
            _announce("dtype", "bfloat16" if native else "float32",
                      _NATIVE_BF16_CPU if native else "CPU without native bf16")
            return torch.bfloat16 if native else torch.float32
        return torch.bfloat16
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; valid: auto, {', '.join(_DTYPES)}") from None


# CPU features that compute bf16 in hardware: AVX512-BF16 (Cooper Lake, Zen 4+) and AMX (Sapphire Rapids+).
# Without them bf16 is emulated and slower than fp32.
_NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
_GPU_ACCELERATORS = ("auto", "gpu", "cuda")
_NATIVE_BF16_CPU = "CPU with native bf16 (AVX512-BF16 / AMX)"


@lru_cache(maxsize=4)
def _linux_cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The `flags` of /proc/cpuinfo: what the CPU has *and* the kernel enabled (AMX needs kernel support too)."""
    try:
        with open(cpuinfo) as f:
            line = next((ln for ln in f if ln.startswith("flags")), "")
    except OSError:
        return frozenset()
    return frozenset(line.partition(":")[2].split())


def _torch_sees_native_bf16() -> bool:
    """torch's own CPUID probe (private API, so absent means: no objection)."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    probes = [p for p in probes if callable(p)]
    try:
        return not probes or any(p() for p in probes)
    except RuntimeError:
        return False


def cpu_has_native_bf16() -> bool:
    """True on a Linux x86 CPU with AVX512-BF16 or AMX, when torch agrees; False elsewhere (macOS, Windows,
    ARM): there we have no tested fast path, and fp32 is the safe default."""
    if platform.system() != "Linux" or not (_linux_cpu_flags() & _NATIVE_BF16_FLAGS):
        return False
    return _torch_sees_native_bf16()


def lightning_precision(precision: str, accelerator: str = "auto") -> str:
    """A Lightning precision string. 'auto' picks bf16-mixed on bf16-capable GPUs, 16-mixed on older GPUs,
    bf16-mixed on CPUs with native bf16 (cpu_has_native_bf16) and 32-true on other CPUs; any other value is
    returned as given."""
    if precision != "auto":
        return precision
    if accelerator in _GPU_ACCELERATORS and torch.cuda.is_available():
        resolved = "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
        _announce("precision", resolved, f"GPU {torch.cuda.get_device_name()}")
    elif accelerator in ("auto", "cpu") and cpu_has_native_bf16():
        resolved = "bf16-mixed"
        _announce("precision", resolved, _NATIVE_BF16_CPU)
    else:
        resolved = "32-true"
        _announce("precision", resolved, f"accelerator {accelerator}, no native bf16")
    return resolved


@lru_cache(maxsize=None)
def _announce(setting: str, resolved: str, reason: str) -> None:
    """Log each automatic choice once per process, not once per student, teacher or training run."""
    log.info("%s auto -> %s (%s)", setting, resolved, reason)
