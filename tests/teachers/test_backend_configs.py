"""The served and GPU teacher configs compose and instantiate; vllm is imported only when a vLLM teacher loads."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import SimpleNamespace

import pytest
from hydra.utils import instantiate

from sgen.records import GenerationParams
from sgen.teachers.openai import OpenAITeacher
from sgen.teachers.vllm import VLLMTeacher, completion_from_output

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def test_openai_config_composes_without_any_secret(tiny_cfg):
    cfg = tiny_cfg("teacher=openai", "teacher.backend.base_url=http://127.0.0.1:9/v1",
                   "teacher.backend.requests_per_minute=600")
    teacher = instantiate(cfg.teacher.backend)  # no network and no key needed until load()
    assert isinstance(teacher, OpenAITeacher)
    assert teacher.base_url == "http://127.0.0.1:9/v1" and teacher.api_key_env == "OPENAI_API_KEY"
    assert teacher.model_id == "gpt-4o-mini" and teacher.requests_per_minute == 600
    assert teacher.cost_usd(1_000_000, 1_000_000) is None  # gpt-4o-mini's list price is for api.openai.com only
    hosted = instantiate(tiny_cfg("teacher=openai").teacher.backend)
    assert hosted.cost_usd(1_000_000, 1_000_000) == pytest.approx(0.75)
    assert {"backend", "label_generation", "text_generation"} <= set(cfg.teacher)
    GenerationParams(**cfg.teacher.label_generation)
    GenerationParams(**cfg.teacher.text_generation)


def test_unreachable_server_fails_at_load_before_any_query(monkeypatch):
    monkeypatch.setenv("SGEN_TEST_KEY", "sk-x")
    teacher = OpenAITeacher(model="m", base_url="http://127.0.0.1:9/v1", api_key_env="SGEN_TEST_KEY", timeout=2)
    with pytest.raises(ConnectionError, match=r"cannot reach .*127\.0\.0\.1:9/v1/models.*base_url"):
        teacher.load()


def test_vllm_config_composes_and_maps_engine_arguments(tiny_cfg):
    cfg = tiny_cfg("teacher=vllm", "teacher.backend.model=Qwen/Qwen2.5-7B-Instruct",
                   "teacher.backend.tensor_parallel_size=4", "teacher.backend.gpu_memory_utilization=0.85",
                   "teacher.backend.max_model_len=4096", "teacher.backend.dtype=bfloat16",
                   "+teacher.backend.engine_kwargs.enable_prefix_caching=true")
    teacher = instantiate(cfg.teacher.backend)
    assert isinstance(teacher, VLLMTeacher)
    assert teacher.engine_args == {
        "model": "Qwen/Qwen2.5-7B-Instruct", "tensor_parallel_size": 4, "gpu_memory_utilization": 0.85,
        "dtype": "bfloat16", "revision": None, "trust_remote_code": False, "enforce_eager": False,
        "max_model_len": 4096, "enable_prefix_caching": True}
    assert teacher.model_id == "Qwen/Qwen2.5-7B-Instruct"
    assert {"backend", "label_generation", "text_generation"} <= set(cfg.teacher)


def test_choosing_vllm_does_not_import_it():
    code = ("import sys; from sgen.teachers.vllm import VLLMTeacher; VLLMTeacher('m'); "
            "assert 'vllm' not in sys.modules, 'vllm imported before load()'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed here: the missing-package message cannot be shown")
def test_missing_vllm_names_the_fix():
    with pytest.raises(ImportError, match=r"needs the vllm package.*pip install vllm.*teacher=hf.*teacher=openai"):
        VLLMTeacher("m").load()


@pytest.mark.parametrize("bad, message", [
    (dict(tensor_parallel_size=0), "tensor_parallel_size"), (dict(gpu_memory_utilization=1.5), "gpu_memory"),
    (dict(dtype="fp8"), "dtype"), (dict(max_model_len=0), "max_model_len"),
])
def test_bad_vllm_settings_fail_at_construction(bad, message):
    with pytest.raises(ValueError, match=message):
        VLLMTeacher("m", **bad)


def test_vllm_sampling_params_and_output_parsing():
    """The generate path's two pure pieces, with vLLM's own field names (SamplingParams kwargs, RequestOutput)."""
    teacher = VLLMTeacher("m")
    teacher._sampling_cls = dict  # records the keyword arguments vllm.SamplingParams would receive
    greedy = teacher.sampling_params(GenerationParams(max_new_tokens=8, temperature=0.0, top_p=0.9), seed=3)
    sampled = teacher.sampling_params(GenerationParams(max_new_tokens=48, temperature=0.8, top_p=0.95), seed=4)
    assert greedy == {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 8, "seed": 3}
    assert sampled == {"n": 1, "temperature": 0.8, "top_p": 0.95, "max_tokens": 48, "seed": 4}
    output = SimpleNamespace(prompt_token_ids=[1, 2, 3, 4], outputs=[SimpleNamespace(text=" positive\n",
                                                                                     token_ids=[7, 8])])
    completion = completion_from_output(output)
    assert (completion.text, completion.prompt_tokens, completion.completion_tokens) == ("positive", 4, 2)
