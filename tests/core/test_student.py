"""The classification student trains for real: parameters move, loss falls, scores are right."""
from __future__ import annotations

import pytest
import torch

from sgen.records import Example
from sgen.students.classifier import EncoderClassifier
from sgen.students.metrics import accuracy, macro_f1, majority_baseline
from sgen.students.trainer import ClassifierStudent
from sgen.tiny import tiny_encoder


def test_metrics():
    gold = ["a", "a", "b", "c"]
    pred = ["a", "b", "b", "b"]
    assert accuracy(gold, pred) == 0.5
    # F1: a=2/3, b=2*1/(1+3)=0.5, c=0
    assert macro_f1(gold, pred) == pytest.approx((2 / 3 + 0.5 + 0) / 3)
    assert majority_baseline(["a", "a", "b"], gold) == 0.5


def _separable(n: int) -> list[Example]:
    pos = ["great love wonderful", "love it thank you", "wonderful surprise great"]
    neg = ["worst day angry", "terrible train late", "angry worst terrible"]
    return [Example(f"e{i}", (pos if i % 2 else neg)[i % 3], "positive" if i % 2 else "negative") for i in range(n)]


def test_student_learns_a_separable_task():
    data = _separable(48)
    student = ClassifierStudent("tiny-bert", tiny={"hidden_size": 32, "layers": 1}, lr=3e-3, epochs=15,
                                batch_size=8, precision="32-true", accelerator="cpu", progress=False)
    result = student.train_and_evaluate(data, _separable(12), ["negative", "positive"], seed=0)
    assert result.scores["accuracy"] == 1.0
    assert result.train_loss_final < 0.3
    assert result.train_steps == 15 * 6


def test_training_moves_encoder_and_head():
    encoder, tokenizer = tiny_encoder(hidden_size=32, layers=1)
    module = EncoderClassifier(encoder, 2, lr=1e-2)
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    enc = tokenizer(["great love", "worst angry"], padding=True, return_tensors="pt")
    opt = torch.optim.AdamW(module.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        loss = torch.nn.functional.cross_entropy(module(enc["input_ids"], enc["attention_mask"]), torch.tensor([1, 0]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 2
    moved = [n for n, p in module.named_parameters() if not torch.equal(p, before[n])]
    assert any(n.startswith("encoder.") for n in moved) and "head.weight" in moved


@pytest.mark.parametrize("unpad", [False, True])
def test_student_learns_in_bf16_mixed_on_cpu_with_grouped_batches(unpad):
    student = ClassifierStudent("tiny-bert", tiny={"hidden_size": 32, "layers": 1}, lr=3e-3, epochs=15,
                                batch_size=8, precision="bf16-mixed", accelerator="cpu", group_by_length=True,
                                unpad=unpad, progress=False)
    result = student.train_and_evaluate(_separable(48), _separable(12), ["negative", "positive"], seed=0)
    assert result.precision == "bf16-mixed" and result.metrics()["student_precision"] == "bf16-mixed"
    assert result.scores["accuracy"] == 1.0 and result.train_loss_final < 0.3 and result.train_steps == 15 * 6


def test_bf16_mixed_computes_in_bf16_and_moves_the_weights():
    """Lightning's bf16-mixed on CPU: the matmuls run in bf16 (autocast), the fp32 weights still learn."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    encoder, tokenizer = tiny_encoder(hidden_size=32, layers=1)
    module = EncoderClassifier(encoder, 2, lr=1e-2, warmup_ratio=0.0)
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    head_dtypes = set()
    module.head.register_forward_hook(lambda m, args, out: head_dtypes.add(out.dtype))
    losses = []

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(float(outputs["loss"]))

    enc = tokenizer(["great love", "worst angry"] * 4, padding=True, return_tensors="pt")
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
             "labels": torch.tensor([1, 0] * 4)}
    trainer = pl.Trainer(max_epochs=20, accelerator="cpu", precision="bf16-mixed", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[Record()])
    trainer.fit(module, DataLoader([batch], batch_size=None))
    assert head_dtypes == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in module.parameters())
    assert losses[-1] < losses[0] / 2
    moved = [n for n, p in module.named_parameters() if not torch.equal(p, before[n])]
    assert any(n.startswith("encoder.") for n in moved) and "head.weight" in moved


def test_length_sorted_evaluation_returns_predictions_in_test_order():
    import pytorch_lightning as pl

    from sgen.students.trainer import _Collate

    class LengthOf(pl.LightningModule):
        """Predicts each row's token count: a prediction shows which row it was computed for."""

        def predict_step(self, batch, batch_idx):
            return batch["attention_mask"].sum(-1)

    _, tokenizer = tiny_encoder(hidden_size=32, layers=1)
    words = ["great", "love", "worst", "angry", "train", "late", "wonderful", "surprise"]
    test = [Example(f"t{i}", " ".join(words[: 1 + (i * 5) % 8]), "positive") for i in range(23)]
    collate = _Collate(tokenizer, 8, {"positive": 0})
    lengths = collate.lengths(test)
    assert lengths != sorted(lengths) and max(lengths) == 8  # mixed order, truncation to max_length applies
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    for grouped in (True, False):
        student = ClassifierStudent("tiny-bert", tiny={"hidden_size": 32, "layers": 1}, eval_batch_size=4,
                                    group_by_length=grouped, accelerator="cpu", progress=False)
        assert student._predict(trainer, LengthOf(), test, collate) == lengths
