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
    scores = student.train_and_evaluate(data, _separable(12), ["negative", "positive"], seed=0)
    assert scores["accuracy"] == 1.0
    assert scores["train_loss_final"] < 0.3
    assert scores["train_steps"] == 15 * 6


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
