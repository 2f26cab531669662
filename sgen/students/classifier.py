"""Student for classification: a pretrained encoder, mean pooling and a linear head, trained with Lightning."""
from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

from sgen.students.fast_dropout import use_fast_dropout
from sgen.students.optim import adamw
from sgen.students.unpadded import mean_pooled, use_unpadding


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens: the pooling all-MiniLM-L6-v2 was trained with (its sentence embedding)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def encode(encoder: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, unpadded: bool) -> torch.Tensor:
    """Sentence embeddings [batch, hidden]: mean-pooled, from the real tokens only when `unpadded` (the encoder
    went through `use_unpadding`)."""
    if unpadded:
        return mean_pooled(encoder, input_ids, attention_mask)
    hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return mean_pool(hidden, attention_mask)


class EncoderClassifier(pl.LightningModule):
    def __init__(self, encoder: nn.Module, num_labels: int, lr: float = 5e-5, weight_decay: float = 0.01,
                 warmup_ratio: float = 0.06, dropout: float = 0.1, fast_dropout: bool = False,
                 unpad: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["encoder"])
        self.encoder = encoder.train()  # from_pretrained returns eval mode; dropout must be on while training
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)
        if fast_dropout:  # bit masks on a CPU (see fast_dropout.py); GPUs keep torch's dropout
            use_fast_dropout(self)
        # After the dropout swap: the padding-free attention keeps its bit masks. BERT encoders only.
        self.unpadded = unpad and use_unpadding(self.encoder)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(encode(self.encoder, input_ids, attention_mask, self.unpadded)))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        logits = self(batch["input_ids"], batch["attention_mask"])
        loss = nn.functional.cross_entropy(logits, batch["labels"])
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch["labels"]))
        return loss

    def predict_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self(batch["input_ids"], batch["attention_mask"]).argmax(-1)

    def configure_optimizers(self):
        no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
        params = [
            {"params": [p for n, p in self.named_parameters() if not n.endswith(no_decay)],
             "weight_decay": self.hparams.weight_decay},
            {"params": [p for n, p in self.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
        ]
        optimizer = adamw(params, self.hparams.lr)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(self.hparams.warmup_ratio * total), total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
