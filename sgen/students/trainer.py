"""Train a classification student on seed + synthetic rows and score it on the test set."""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from sgen.models import materialize, resolve_model
from sgen.records import Example
from sgen.students.base import Student, StudentResult
from sgen.students.batching import LengthGroupedBatchSampler, length_order, restore_order
from sgen.students.classifier import EncoderClassifier, encode
from sgen.students.unpadded import use_unpadding
from sgen.students.lightning_loop import make_trainer
from sgen.students.settings import TrainSettings
from sgen.students.metrics import accuracy, macro_f1

log = logging.getLogger(__name__)


class ClassifierStudent(Student):
    """An encoder with a linear label head."""

    #: Task kinds this student can learn (a label head has nothing to say about free-text answers).
    kinds = ("classification",)

    def __init__(self, model: str, bundled_package: str | None = None, bundled_path: str | None = None,
                 max_length: int = 64, batch_size: int = 32, lr: float = 1e-4, epochs: int = 3,
                 min_steps: int = 0, weight_decay: float = 0.01, warmup_ratio: float = 0.06,
                 precision: str = "auto", accelerator: str = "auto", eval_batch_size: int = 128,
                 group_by_length: bool = False, fast_dropout: bool = False, unpad: bool = False,
                 progress: bool = True, tiny: dict | None = None) -> None:
        self.model = model
        self.source = None if tiny is not None else resolve_model(model, bundled_package, bundled_path,
                                                                  "student.model")
        self.tiny = tiny
        self.pretrained_encoder = tiny is None
        self.max_length, self.eval_batch_size = max_length, eval_batch_size
        self.train_settings = TrainSettings(epochs=epochs, min_steps=min_steps, batch_size=batch_size, lr=lr,
                                            weight_decay=weight_decay, warmup_ratio=warmup_ratio,
                                            precision=precision, accelerator=accelerator,
                                            progress=progress).checked("student")
        # Resolved once here: the fingerprint must tell an fp32 run from a bf16 one, whatever 'auto' meant.
        self.resolved_precision = self.train_settings.resolved_precision
        self.group_by_length = group_by_length
        self.fast_dropout = fast_dropout
        self.unpad = unpad

    def fingerprint(self) -> dict[str, Any]:
        """Settings that change the trained model (for the seed-only score cache)."""
        train = self.train_settings
        return {"model": self.model, "tiny": self.tiny, "max_length": self.max_length, "batch_size": train.batch_size,
                "lr": train.lr, "epochs": train.epochs, "min_steps": train.min_steps, "wd": train.weight_decay,
                "warmup": train.warmup_ratio, "precision": self.resolved_precision,
                "group_by_length": self.group_by_length, "fast_dropout": self.fast_dropout,
                **({"unpad": True} if self.unpad else {})}  # absent when off: earlier fingerprints stay valid

    def _build(self):
        if self.tiny is not None:
            from sgen.tiny import tiny_encoder

            return tiny_encoder(**self.tiny)
        from transformers import AutoModel, AutoTokenizer

        path = materialize(self.source)
        return AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path)

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled last hidden states of the untrained encoder (all-MiniLM-L6-v2's sentence embedding), on the
        training accelerator's device, in bf16 autocast where training uses bf16, batched shortest first like the
        evaluation (1,400 tweets on 2 CPU cores: 4.4 s, against 8.0 s in fp32); the vectors are returned in fp32."""
        encoder, tokenizer = self._build()
        device = torch.device("cuda" if self.train_settings.accelerator in ("auto", "gpu", "cuda")
                              and torch.cuda.is_available() else "cpu")
        encoder.to(device).eval()
        unpadded = self.unpad and use_unpadding(encoder)
        if not texts:
            return np.zeros((0, encoder.config.hidden_size), dtype=np.float32)
        ids = tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        order = length_order([len(row) for row in ids])
        bf16 = self.resolved_precision.startswith("bf16")
        out = []
        for start in range(0, len(order), self.eval_batch_size):
            batch = [texts[i] for i in order[start:start + self.eval_batch_size]]
            enc = tokenizer(batch, padding=True, truncation=True, max_length=self.max_length,
                            return_tensors="pt").to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                pooled = encode(encoder, enc["input_ids"], enc["attention_mask"], unpadded)
            out.extend(pooled.float().cpu().numpy())
        return np.stack(restore_order(out, order))

    def train_and_evaluate(self, train: Sequence[Example], test: Sequence[Example], labels: Sequence[str],
                           seed: int, loggers: list | None = None, task=None,
                           callbacks: list | None = None) -> StudentResult:
        """Fit a fresh model on `train`, score it on `test`. `task` is unused here: classification needs only labels;
        `callbacks` go to the Lightning Trainer (benchmarks time the steps with one)."""
        pl.seed_everything(seed, workers=True, verbose=False)
        encoder, tokenizer = self._build()
        label_ids = {lab: i for i, lab in enumerate(labels)}
        collate = _Collate(tokenizer, self.max_length, label_ids)
        train_settings = self.train_settings
        module = EncoderClassifier(encoder, len(labels), train_settings.lr, train_settings.weight_decay,
                                   train_settings.warmup_ratio, fast_dropout=self.fast_dropout, unpad=self.unpad)
        loader = self._train_loader(list(train), collate, seed)
        trainer = make_trainer(
            max_epochs=max(train_settings.epochs, math.ceil(train_settings.min_steps / max(len(loader), 1))),
            accelerator=train_settings.accelerator, precision=self.resolved_precision,
            progress=train_settings.progress,
            loggers=loggers, callbacks=callbacks, deterministic=False,
        )
        t0 = time.perf_counter()
        trainer.fit(module, loader)
        t_train = time.perf_counter() - t0
        final_loss = trainer.callback_metrics.get("train_loss_epoch")  # predict() resets callback_metrics
        t0 = time.perf_counter()
        preds = self._predict(trainer, module, list(test), collate)
        gold = [e.label for e in test]
        pred = [labels[i] for i in preds]
        return StudentResult(
            scores={"accuracy": accuracy(gold, pred), "macro_f1": macro_f1(gold, pred)},
            train_steps=int(trainer.global_step),
            train_loss_final=float(final_loss) if final_loss is not None else math.nan,
            precision=self.resolved_precision, seconds_train=t_train, seconds_eval=time.perf_counter() - t0)

    def _train_loader(self, train: list[Example], collate: _Collate, seed: int) -> DataLoader:
        if not self.group_by_length:
            return DataLoader(train, batch_size=self.train_settings.batch_size, shuffle=True, collate_fn=collate,
                              generator=torch.Generator().manual_seed(seed))
        sampler = LengthGroupedBatchSampler(collate.lengths(train), self.train_settings.batch_size, seed)
        return DataLoader(train, batch_sampler=sampler, collate_fn=collate)

    def _predict(self, trainer: pl.Trainer, module: EncoderClassifier, test: list[Example],
                 collate: _Collate) -> list[int]:
        """Label ids in the order of `test`; with group_by_length the batches run shortest first."""
        order = length_order(collate.lengths(test)) if self.group_by_length else list(range(len(test)))
        loader = DataLoader([test[i] for i in order], batch_size=self.eval_batch_size, collate_fn=collate)
        return restore_order(torch.cat(trainer.predict(module, loader)).tolist(), order)


class _Collate:
    def __init__(self, tokenizer, max_length: int, label_ids: dict[str, int]) -> None:
        self.tokenizer, self.max_length, self.label_ids = tokenizer, max_length, label_ids

    def lengths(self, examples: list[Example]) -> list[int]:
        """Token counts after truncation: what each row adds to its batch's padded width."""
        ids = self.tokenizer([e.text for e in examples], truncation=True, max_length=self.max_length)["input_ids"]
        return [len(row) for row in ids]

    def __call__(self, batch: list[Example]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer([e.text for e in batch], padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        labels = torch.tensor([self.label_ids.get(e.label, -100) for e in batch])
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels}
