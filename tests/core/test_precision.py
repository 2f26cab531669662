"""precision: auto resolves per machine (bf16 where the hardware computes it), and cache keys hold the result."""
from __future__ import annotations

import pytest
import torch

from sgen import devices
from sgen.devices import lightning_precision, resolve_dtype
from sgen.students.generative import GenerativeStudent
from sgen.students.trainer import ClassifierStudent
from sgen.teachers.finetune import TeacherFinetune, adapter_key

EXPLICIT = ["32-true", "bf16-mixed", "16-mixed", "bf16-true", "64-true"]


@pytest.fixture
def fake_cpu(monkeypatch):
    """A machine without CUDA whose OS and CPU flags the test chooses."""

    def make(flags: set[str], system: str = "Linux") -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        monkeypatch.setattr(devices.platform, "system", lambda: system)
        monkeypatch.setattr(devices, "_linux_cpu_flags", lambda: frozenset(flags))
        monkeypatch.setattr(devices, "_torch_sees_native_bf16", lambda: True)

    return make


@pytest.fixture
def fake_gpu(monkeypatch):
    def make(bf16: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda: "FakeGPU")

    return make


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_auto_is_bf16_on_a_cpu_with_native_bf16(fake_cpu, flag):
    fake_cpu({"sse2", "avx512f", flag})
    assert lightning_precision("auto") == "bf16-mixed"
    assert lightning_precision("auto", "cpu") == "bf16-mixed"


@pytest.mark.parametrize("flags,system", [({"sse2", "avx2", "avx512f"}, "Linux"), (set(), "Linux"),
                                          ({"avx512_bf16", "amx_bf16"}, "Darwin"),
                                          ({"avx512_bf16"}, "Windows")])
def test_auto_is_fp32_elsewhere(fake_cpu, flags, system):
    fake_cpu(flags, system)
    assert lightning_precision("auto") == "32-true"


def test_auto_is_fp32_when_torch_disagrees_or_on_mps(fake_cpu, monkeypatch):
    fake_cpu({"avx512_bf16"})
    assert lightning_precision("auto", "mps") == "32-true"
    monkeypatch.setattr(devices, "_torch_sees_native_bf16", lambda: False)
    assert lightning_precision("auto") == "32-true"


def test_auto_on_gpus_is_unchanged(fake_gpu, fake_cpu):
    fake_cpu({"avx2"})  # a CPU without bf16 must not matter when the GPU trains
    fake_gpu(bf16=True)
    assert lightning_precision("auto") == lightning_precision("auto", "gpu") == "bf16-mixed"
    fake_gpu(bf16=False)
    assert lightning_precision("auto") == lightning_precision("auto", "cuda") == "16-mixed"
    assert lightning_precision("auto", "cpu") == "32-true"  # accelerator=cpu on a GPU node trains on the CPU


@pytest.mark.parametrize("flags,expected", [({"avx512f", "avx512_bf16"}, torch.bfloat16),
                                            ({"amx_bf16"}, torch.bfloat16), ({"avx2", "fma"}, torch.float32)])
def test_teacher_dtype_auto_on_a_cpu_is_bf16_only_where_the_cpu_computes_it(fake_cpu, flags, expected):
    fake_cpu(flags)
    assert resolve_dtype("auto", torch.device("cpu")) == expected
    assert resolve_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16  # an explicit choice always wins
    assert resolve_dtype("fp32", torch.device("cpu")) == torch.float32


def test_teacher_dtype_auto_on_gpus(fake_gpu):
    fake_gpu(bf16=True)
    assert resolve_dtype("auto", torch.device("cuda")) == torch.bfloat16
    fake_gpu(bf16=False)
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16


def test_an_unknown_dtype_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown dtype 'bf17'.*valid: auto"):
        resolve_dtype("bf17", torch.device("cpu"))


@pytest.mark.parametrize("value", EXPLICIT)
def test_explicit_precision_passes_through(fake_cpu, fake_gpu, value):
    fake_cpu({"avx2"})
    assert lightning_precision(value) == lightning_precision(value, "cpu") == value
    fake_cpu({"amx_bf16"})
    assert lightning_precision(value) == value
    fake_gpu(bf16=False)
    assert lightning_precision(value) == value


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Fake CPU\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n\n"
                       "processor\t: 1\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n")
    assert {"amx_bf16", "avx512f", "fpu"} <= devices._linux_cpu_flags(str(cpuinfo))
    assert devices._linux_cpu_flags(str(tmp_path / "missing")) == frozenset()


def _classifier(**kw) -> ClassifierStudent:
    return ClassifierStudent("tiny-bert", tiny={"hidden_size": 32, "layers": 1}, accelerator="cpu", progress=False,
                             **kw)


def test_fingerprints_key_on_the_resolved_precision(fake_cpu):
    fake_cpu({"avx2"})
    fp32_auto = _classifier(precision="auto").fingerprint()
    assert fp32_auto == _classifier(precision="32-true").fingerprint()
    assert fp32_auto != _classifier(precision="bf16-mixed").fingerprint()
    fake_cpu({"avx512_bf16"})
    bf16_auto = _classifier(precision="auto").fingerprint()
    assert bf16_auto == _classifier(precision="bf16-mixed").fingerprint() != fp32_auto
    assert _classifier(group_by_length=True).fingerprint() != _classifier(group_by_length=False).fingerprint()


def test_generative_and_teacher_adapter_keys_follow_the_resolved_precision(fake_cpu):
    def generative(precision: str) -> dict:
        return GenerativeStudent("tiny-llama", tiny={"arch": "llama"}, precision=precision, accelerator="cpu",
                                 progress=False).fingerprint()

    def key() -> str:
        return adapter_key("m", [("a", "x")], TeacherFinetune(), "cpu")

    fake_cpu({"avx2"})
    fp32_student, fp32_key = generative("auto"), key()
    assert fp32_student == generative("32-true") and fp32_student["precision"] == "32-true"
    fake_cpu({"amx_bf16"})
    assert generative("auto") == generative("bf16-mixed") != fp32_student
    assert key() != fp32_key
