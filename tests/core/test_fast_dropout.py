"""CPU dropout from bit masks: the same distribution as torch's dropout, reproducible from the seed, and an encoder
that uses it computes what it computed before whenever dropout is off."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from sgen.students.fast_dropout import ATTENTION, FastDropout, dropout, keep_mask, train_sdpa, use_fast_dropout
from sgen.students.trainer import ClassifierStudent
from sgen.tiny import tiny_encoder
from tests.core.test_student import _separable


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_mask_keeps_one_minus_p_in_every_lane(p):
    torch.manual_seed(0)
    mask = keep_mask((1000, 1000), p, torch.device("cpu"))
    assert mask.dtype == torch.bool and mask.shape == (1000, 1000)
    assert abs(mask.float().mean().item() - (1 - p)) < 3e-3
    # Four 16-bit lanes come from each 64-bit word: none of them may be biased (a sign bit that is never set would
    # shift one lane's rate).
    lanes = mask.flatten().view(-1, 4).float().mean(0)
    assert (lanes - (1 - p)).abs().max().item() < 6e-3


def test_keep_mask_is_reproducible_from_the_seed_and_fresh_each_draw():
    torch.manual_seed(3)
    a, b = keep_mask((7, 33), 0.1, torch.device("cpu")), keep_mask((7, 33), 0.1, torch.device("cpu"))
    torch.manual_seed(3)
    assert torch.equal(keep_mask((7, 33), 0.1, torch.device("cpu")), a)
    assert not torch.equal(a, b)


def test_dropout_scales_what_it_keeps_and_its_gradient_is_the_mask():
    x = torch.ones(200, 300, requires_grad=True)
    torch.manual_seed(0)
    out = dropout(x, 0.25)
    kept = out != 0
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.75))
    assert abs(out.mean().item() - 1.0) < 0.02  # the expectation is unchanged
    out.sum().backward()
    assert torch.equal(x.grad, out.detach())  # d out / d x = mask / (1 - p)
    assert dropout(x, 0.25, training=False) is x and dropout(x, 0.0) is x


def test_fast_dropout_module_follows_train_and_eval():
    layer = FastDropout(0.5)
    x = torch.ones(64, 64)
    assert torch.equal(layer.eval()(x), x)
    assert (layer.train()(x) == 0).any()


def _attention_inputs(mask_dtype):
    torch.manual_seed(1)
    q, k, v = (torch.randn(2, 4, 5, 8) for _ in range(3))
    allowed = torch.ones(2, 1, 5, 5, dtype=torch.bool)
    allowed[1, :, :, 3:] = False  # the second row's last two keys are padding
    mask = allowed if mask_dtype == torch.bool else torch.zeros(2, 1, 5, 5).masked_fill(~allowed, float("-inf"))
    return q, k, v, mask, allowed


@pytest.mark.parametrize("mask_dtype", [torch.bool, torch.float32])
def test_train_sdpa_is_attention_with_the_bit_mask_dropout(mask_dtype):
    q, k, v, mask, allowed = _attention_inputs(mask_dtype)
    module = nn.Module().train()
    torch.manual_seed(7)
    out, _ = train_sdpa(module, q, k, v, mask, dropout=0.2)
    torch.manual_seed(7)
    keep = keep_mask((2, 4, 5, 5), 0.2, torch.device("cpu"))
    weights = torch.softmax((q @ k.transpose(-1, -2) / 8**0.5).masked_fill(~allowed, float("-inf")), -1)
    expected = ((weights * keep / 0.8) @ v).transpose(1, 2)
    assert out.shape == (2, 5, 4, 8)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("mask_dtype", [torch.bool, torch.float32])
def test_train_sdpa_without_dropout_is_transformers_sdpa(mask_dtype):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    q, k, v, mask, _ = _attention_inputs(mask_dtype)
    module = nn.Module().eval()
    module.is_causal = False
    ours, _ = train_sdpa(module, q, k, v, mask, dropout=0.0)
    theirs, _ = sdpa_attention_forward(module, q, k, v, mask, dropout=0.0)
    torch.testing.assert_close(ours, theirs)


def test_encoder_with_fast_dropout_equals_the_original_in_eval_and_is_seeded_in_training():
    encoder, tokenizer = tiny_encoder(hidden_size=32, layers=2)
    original = copy.deepcopy(encoder).eval()
    swapped = use_fast_dropout(encoder)
    assert swapped == sum(type(m) is nn.Dropout for m in original.modules()) > 0
    assert not any(type(m) is nn.Dropout for m in encoder.modules())
    assert encoder.config._attn_implementation == ATTENTION
    enc = tokenizer(["great love wonderful day", "worst"], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = original(**enc).last_hidden_state
        torch.testing.assert_close(encoder.eval()(**enc).last_hidden_state, expected)
        encoder.train()
        torch.manual_seed(0)
        first = encoder(**enc).last_hidden_state
        torch.manual_seed(0)
        again = encoder(**enc).last_hidden_state
        other = encoder(**enc).last_hidden_state
    assert torch.equal(first, again) and not torch.allclose(first, other)


def test_student_with_fast_dropout_learns_and_the_seed_only_cache_tells_it_apart():
    kwargs = dict(tiny={"hidden_size": 32, "layers": 1}, lr=3e-3, epochs=15, batch_size=8, precision="32-true",
                  accelerator="cpu", group_by_length=True, progress=False)
    student = ClassifierStudent("tiny-bert", fast_dropout=True, **kwargs)
    result = student.train_and_evaluate(_separable(48), _separable(12), ["negative", "positive"], seed=0)
    assert result.scores["accuracy"] == 1.0 and result.train_loss_final < 0.3
    assert student.fingerprint() != ClassifierStudent("tiny-bert", fast_dropout=False, **kwargs).fingerprint()
