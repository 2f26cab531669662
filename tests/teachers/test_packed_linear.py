"""The engine's oneDNN-packed linear layers: the same numbers as nn.Linear to fp32 rounding, a row's output
independent of its batch, swapped in only while the engine runs, and off where they do not apply."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sgen.records import GenerationParams
from sgen.teachers.engine.packed_linear import PackedLinear, pack_linears
from sgen.teachers.hf import tiny_teacher

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN")


@pytest.mark.parametrize(("k", "n", "bias"), [(576, 1536, False), (1536, 576, False), (64, 100, True)])
def test_packed_linear_matches_nn_linear_and_a_row_does_not_depend_on_its_batch(k, n, bias):
    torch.manual_seed(0)
    linear = nn.Linear(k, n, bias=bias)
    packed = PackedLinear(linear, rows_hint=128)
    x = torch.randn(300, k)
    with torch.inference_mode():
        torch.testing.assert_close(packed(x), linear(x), atol=1e-4, rtol=1e-4)
        # Row 5 alone, among 7, 64 and 300 rows: the same bits (MKL's F.linear changes with the row count).
        alone = packed(x[5:6])
        for rows in (7, 64, 300):
            assert torch.equal(packed(x[:rows])[5:6], alone)
        # A [batch, tokens, features] input, as the model's layers pass it.
        torch.testing.assert_close(packed(x[:12].view(3, 4, k)), linear(x[:12]).view(3, 4, n), atol=1e-4,
                                   rtol=1e-4)


def test_the_engine_swaps_packed_layers_in_only_while_it_runs():
    teacher = tiny_teacher(arch="llama")
    teacher.load()
    assert teacher._batcher.linears is None  # packed at the first generation, not at load
    teacher.generate([[{"role": "user", "content": "hello"}]], GenerationParams(1))
    packs = teacher._batcher.linears
    assert packs is not None and len(packs.swaps) == 2 * 7 + 1  # 2 layers of q, k, v, o, gate, up, down; lm_head
    seen = []
    original = PackedLinear.forward

    def spy(self, x):
        seen.append(self.out_features)
        return original(self, x)

    PackedLinear.forward = spy
    try:
        teacher.generate([[{"role": "user", "content": "the meeting is at noon"}]], GenerationParams(4))
    finally:
        PackedLinear.forward = original
    assert seen and teacher.model.config.vocab_size in seen  # the lm_head ran packed
    assert all(type(m) is not PackedLinear for m in teacher.model.modules())  # the model is given back plain
    with pytest.raises(RuntimeError), packs.swapped():
        raise RuntimeError("a forward failed")
    assert all(type(m) is not PackedLinear for m in teacher.model.modules())


def test_packing_is_off_for_bf16_when_switched_off_and_for_linear_subclasses():
    teacher = tiny_teacher(arch="llama")
    assert pack_linears(teacher.model.to(torch.bfloat16), 8) is None  # bf16 keeps F.linear
    teacher.model.to(torch.float32)
    teacher.pack_weights = False
    teacher._start_engine()
    teacher.generate([[{"role": "user", "content": "hello"}]], GenerationParams(1))
    assert teacher._batcher.linears is None

    class Adapted(nn.Linear):  # e.g. a LoRA layer: its own forward must run
        pass

    model = nn.Sequential(nn.Linear(4, 4), Adapted(4, 4))
    assert [type(s[2]) for s in pack_linears(model, 8).swaps] == [nn.Linear]


def test_no_copies_when_they_would_take_more_than_half_the_available_memory(monkeypatch):
    from sgen.teachers.engine import packed_linear

    model = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 64))  # 32 KB of weights
    monkeypatch.setattr(packed_linear, "available_memory", lambda: 40_000)
    assert pack_linears(model, 8) is None
    monkeypatch.setattr(packed_linear, "available_memory", lambda: 80_000)
    assert len(pack_linears(model, 8).swaps) == 2
    monkeypatch.setattr(packed_linear, "available_memory", lambda: None)  # unknown: pack
    assert pack_linears(model, 8) is not None
