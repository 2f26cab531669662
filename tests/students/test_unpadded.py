"""Padding-free encoder passes compute what the padded pass computes (forward and gradients), with either padding
side, keep their dropout reproducible, and fall back to padded batches where they cannot apply."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sgen.students.classifier import EncoderClassifier, mean_pool
from sgen.students.fast_dropout import use_fast_dropout
from sgen.students.trainer import ClassifierStudent
from sgen.students.unpadded import ATTENTION, Layout, mean_pooled, unpadding_unsupported, use_unpadding
from sgen.tiny import tiny_encoder, tiny_seq2seq
from tests.core.test_student import _separable

TEXTS = ["the service was great", "how do i change my pin and my card has not arrived yet", "what",
         "negative neutral positive so angry today"]


def _pair(dropout: float | None = None):
    """Two copies of one tiny encoder: the first stays padded, the second runs padding-free."""
    (padded, tokenizer), (unpadded, _) = tiny_encoder(seed=3), tiny_encoder(seed=3)
    for model in (padded, unpadded):
        for module in model.modules():
            if dropout is not None and isinstance(module, nn.Dropout):
                module.p = dropout
    assert use_unpadding(unpadded) and unpadded.config._attn_implementation == ATTENTION
    return padded, unpadded, tokenizer


@pytest.mark.parametrize("side", ["right", "left"])
def test_unpadded_pass_equals_the_padded_one_forward_and_backward(side):
    padded, unpadded, tokenizer = _pair(dropout=0.0)
    tokenizer.padding_side = side
    try:
        batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    finally:
        tokenizer.padding_side = "right"
    assert (batch["attention_mask"] == 0).any()  # the batch has padding to skip
    ids, mask = batch["input_ids"], batch["attention_mask"]
    expected = mean_pool(padded(input_ids=ids, attention_mask=mask).last_hidden_state, mask)
    got = mean_pooled(unpadded, ids, mask)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    weights = torch.randn_like(expected)
    (expected * weights).sum().backward()
    (got * weights).sum().backward()
    for (name, a), b in zip(padded.named_parameters(), unpadded.parameters(), strict=True):
        if a.grad is None:  # the pooler: mean pooling never reaches it
            assert b.grad is None, name
            continue
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_layout_trims_padding_columns_and_survives_a_row_without_tokens():
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    layout = Layout.of(mask)
    assert layout.width == 3 and layout.batch == 3
    assert layout.index.tolist() == [0, 1, 2, 3] and layout.rows.tolist() == [0, 0, 0, 1]
    assert layout.columns.tolist() == [0, 1, 2, 0] and layout.lengths.tolist() == [3, 1, 0]
    assert layout.key_mask[2].all()  # nothing to attend to: any key, rather than a softmax over none (NaN)
    _, unpadded, _ = _pair()
    ids = torch.randint(5, 50, mask.shape)
    pooled = mean_pooled(unpadded.eval(), ids, mask)
    assert torch.isfinite(pooled).all() and pooled[2].abs().sum() == 0
    alone = mean_pooled(unpadded, ids[:1, :3], mask[:1, :3])  # the trailing padding columns change nothing
    torch.testing.assert_close(pooled[:1], alone, rtol=1e-5, atol=1e-6)


def test_dropout_stays_on_and_reproducible_from_the_seed_with_bit_masks():
    _, unpadded, tokenizer = _pair(dropout=0.3)
    use_fast_dropout(unpadded)
    assert unpadding_unsupported(unpadded) is None and use_unpadding(unpadded)  # after the swap, as the student does
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    args = batch["input_ids"], batch["attention_mask"]
    unpadded.train()
    torch.manual_seed(0)
    first = mean_pooled(unpadded, *args)
    torch.manual_seed(0)
    again = mean_pooled(unpadded, *args)
    other = mean_pooled(unpadded, *args)
    assert torch.equal(first, again) and not torch.allclose(first, other)
    assert not torch.allclose(first, mean_pooled(unpadded.eval(), *args))


def test_a_padded_call_still_works_after_the_swap():
    """Anything that calls the encoder itself (a hook, a probe) gets the padded pass it always got."""
    padded, unpadded, tokenizer = _pair()
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    torch.testing.assert_close(unpadded.eval()(**batch).last_hidden_state, padded.eval()(**batch).last_hidden_state)


def test_models_it_cannot_run_keep_padded_batches():
    model, _ = tiny_seq2seq()
    assert "t5" in unpadding_unsupported(model) and not use_unpadding(model)
    eager, _ = tiny_encoder()
    eager.config._attn_implementation = "eager"
    assert "eager" in unpadding_unsupported(eager) and not use_unpadding(eager)
    encoder, _ = tiny_encoder()
    assert not EncoderClassifier(encoder, 2, unpad=False).unpadded
    assert EncoderClassifier(tiny_encoder()[0], 2, unpad=True).unpadded


def test_student_learns_padding_free_and_its_embeddings_match_the_padded_ones():
    kwargs = dict(tiny={"hidden_size": 32, "layers": 1}, lr=3e-3, epochs=15, batch_size=8, precision="32-true",
                  accelerator="cpu", group_by_length=True, fast_dropout=True, progress=False)
    student = ClassifierStudent("tiny-bert", unpad=True, **kwargs)
    result = student.train_and_evaluate(_separable(48), _separable(12), ["negative", "positive"], seed=0)
    assert result.scores["accuracy"] == 1.0 and result.train_loss_final < 0.3
    padded = ClassifierStudent("tiny-bert", unpad=False, **kwargs)
    assert student.fingerprint() != padded.fingerprint()  # the seed-only cache tells them apart
    assert "unpad" not in padded.fingerprint()  # scores cached before this setting existed stay valid
    texts = [e.text for e in _separable(20)]
    torch.testing.assert_close(torch.from_numpy(student.embed(texts)), torch.from_numpy(padded.embed(texts)),
                               rtol=1e-5, atol=1e-5)
