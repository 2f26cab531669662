"""Supervised fine-tuning of a language model on (chat prompt, completion) pairs: one Lightning loop for the
generative students (causal LM and seq2seq) and for fine-tuning the teacher on the seed set (Kaddour & Liu 2024).

The loss covers completion tokens only: prompt and padding positions carry the label -100, which the transformers
losses ignore. LoRA goes through PEFT; full fine-tuning trains every weight.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import get_cosine_schedule_with_warmup

from sgen.students.fast_dropout import use_fast_dropout
from sgen.students.lightning_loop import make_trainer
from sgen.students.optim import adamw
from sgen.students.settings import LoRASettings, TrainSettings
from sgen.records import Messages

log = logging.getLogger(__name__)

IGNORE = -100  # label of positions that do not count in the loss
FINETUNE_METHODS = ("lora", "full")


def apply_finetune(model: nn.Module, method: str, lora: LoRASettings | None, task_type: str,
                   fast_dropout: bool = False) -> nn.Module:
    """Wrap `model` for training: a PEFT LoRA model (base weights frozen) or the model itself (full fine-tuning).
    `fast_dropout`: LoRA's and the model's dropout modules draw bit masks on a CPU (fast_dropout.py); the attention
    stays as it is, since a teacher's model serves the engine afterwards, which swaps its own in over SDPA only."""
    wrapped = _wrap_for_training(model, method, lora, task_type)
    if fast_dropout:
        use_fast_dropout(wrapped, attention=False)
    return wrapped


def _wrap_for_training(model: nn.Module, method: str, lora: LoRASettings | None, task_type: str) -> nn.Module:
    if method not in FINETUNE_METHODS:
        raise ValueError(f"unknown finetune method {method!r}; valid: {', '.join(FINETUNE_METHODS)}")
    if method == "full":
        model.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    lora = lora or LoRASettings()
    targets = list(lora.target_modules) if isinstance(lora.target_modules, tuple) else lora.target_modules
    config = LoraConfig(task_type=task_type, r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=targets)
    peft_model = get_peft_model(model, config)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in peft_model.parameters())
    log.info("LoRA r=%d alpha=%d on %s: %d of %d parameters trainable (%.2f%%)", lora.r, lora.alpha,
             sorted(peft_model.peft_config["default"].target_modules), trainable, total, 100 * trainable / total)
    return peft_model


# -- features: (prompt, completion) -> token ids with completion-only labels ---------------------------------------
def render_prompt(tokenizer, messages: Messages) -> str:
    """The prompt exactly as the model sees it at inference: the chat template with the assistant turn opened."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def flatten_prompt(messages: Messages) -> str:
    """Chat messages as plain text, for seq2seq models that have no chat template."""
    return "\n\n".join(m["content"] for m in messages)


def causal_features(tokenizer, pairs: Sequence[tuple[Messages, str]], max_length: int) -> list[dict[str, list[int]]]:
    """input_ids = prompt + completion + eos; labels = -100 over the prompt. Too long: the prompt loses its start
    (the question sits at its end), then the completion its end."""
    feats = []
    for messages, target in pairs:
        prompt = tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)["input_ids"]
        answer = tokenizer(target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        answer = answer[:max_length]
        prompt = prompt[max(len(prompt) - (max_length - len(answer)), 0):] if len(answer) < max_length else []
        feats.append({"input_ids": prompt + answer, "labels": [IGNORE] * len(prompt) + answer})
    return feats


def seq2seq_features(tokenizer, pairs: Sequence[tuple[Messages, str]], max_length: int) -> list[dict[str, list[int]]]:
    """Encoder input = the flattened prompt; labels = completion + eos (the decoder input is derived from them)."""
    feats = []
    for messages, target in pairs:
        source = tokenizer(flatten_prompt(messages), truncation=True, max_length=max_length)["input_ids"]
        answer = tokenizer(target, add_special_tokens=False)["input_ids"][: max_length - 1] + [tokenizer.eos_token_id]
        feats.append({"input_ids": source, "labels": answer})
    return feats


class PadCollator:
    """Right-pads input_ids (pad id), attention_mask (0) and labels (-100). Labels of causal features have the
    input's length; seq2seq labels are padded on their own."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in batch)
        label_width = max(len(f["labels"]) for f in batch)
        ids = torch.full((len(batch), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), label_width), IGNORE, dtype=torch.long)
        for i, f in enumerate(batch):
            ids[i, : len(f["input_ids"])] = torch.tensor(f["input_ids"])
            mask[i, : len(f["input_ids"])] = 1
            labels[i, : len(f["labels"])] = torch.tensor(f["labels"])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


# -- the Lightning module and the one training loop -----------------------------------------------------------------
class SFTModule(pl.LightningModule):
    """Token-level cross-entropy of a transformers LM (causal or seq2seq) on labelled positions; AdamW over the
    trainable parameters only; cosine decay after a linear warmup, stepped per optimizer step."""

    def __init__(self, model: nn.Module, lr: float = 2e-4, weight_decay: float = 0.0,
                 warmup_ratio: float = 0.03) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.model = model
        self.step_losses: list[torch.Tensor] = []  # per micro-batch, detached; read after fit (no per-step sync)
        self.tokens_seen = 0

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.model(**batch).loss
        self.step_losses.append(loss.detach())
        self.tokens_seen += int(batch["attention_mask"].numel())
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch["input_ids"]))
        return loss

    def configure_optimizers(self):
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        decay = [p for n, p in named if p.ndim >= 2]  # no decay on biases and norms
        rest = [p for n, p in named if p.ndim < 2]
        optimizer = adamw([{"params": decay, "weight_decay": self.hparams.weight_decay},
                           {"params": rest, "weight_decay": 0.0}], self.hparams.lr)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        # Floor, not ceil: a run shorter than 1/warmup_ratio steps starts at full lr instead of spending its first
        # optimizer step at lr 0.
        scheduler = get_cosine_schedule_with_warmup(optimizer, int(self.hparams.warmup_ratio * total), total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


@dataclass
class FitResult:
    steps: int
    seconds: float
    tokens: int
    losses: list[float] = field(default_factory=list)  # per micro-batch, in order

    @property
    def loss_first(self) -> float:
        return self.losses[0] if self.losses else math.nan

    def loss_final(self, window: int) -> float:
        """Mean over the last `window` micro-batches (about one epoch): less noisy than the last step alone."""
        tail = self.losses[-max(window, 1):]
        return sum(tail) / len(tail) if tail else math.nan


def fit_sft(model: nn.Module, features: list[dict[str, list[int]]], pad_token_id: int, settings: TrainSettings,
            seed: int, loggers: list | None = None, callbacks: list | None = None) -> FitResult:
    """Train `model` in place on `features` with Lightning; returns the step count, time and loss curve."""
    if not features:
        raise ValueError("no training pairs: the train set is empty")
    pl.seed_everything(seed, workers=True, verbose=False)
    module = SFTModule(model, settings.lr, settings.weight_decay, settings.warmup_ratio)
    loader = DataLoader(features, batch_size=settings.batch_size, shuffle=True, collate_fn=PadCollator(pad_token_id),
                        generator=torch.Generator().manual_seed(seed))
    steps_per_epoch = max(math.ceil(len(loader) / settings.grad_accum), 1)
    trainer = make_trainer(
        max_epochs=max(settings.epochs, math.ceil(settings.min_steps / steps_per_epoch)),
        accelerator=settings.accelerator, precision=settings.resolved_precision, progress=settings.progress,
        loggers=loggers, callbacks=callbacks, accumulate_grad_batches=settings.grad_accum, num_sanity_val_steps=0,
    )
    model.train()  # Lightning keeps the modes it finds; a loaded model is in eval mode (no LoRA dropout)
    t0 = time.perf_counter()
    trainer.fit(module, loader)
    seconds = time.perf_counter() - t0
    model.eval()
    losses = torch.stack(module.step_losses).float().tolist() if module.step_losses else []
    log.info("SFT: %d steps in %.1fs, loss %.4f -> %.4f", trainer.global_step, seconds,
             losses[0] if losses else math.nan, losses[-1] if losses else math.nan)
    return FitResult(steps=int(trainer.global_step), seconds=seconds, tokens=module.tokens_seen, losses=losses)
