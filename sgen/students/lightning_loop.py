"""The one Lightning Trainer set-up behind every training loop in sgen: the students and the teacher fine-tuning."""
from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.plugins.environments import LightningEnvironment


def make_trainer(*, max_epochs: int, accelerator: str, precision: str, progress: bool, loggers: list | None = None,
                 callbacks: list | None = None, **extra) -> pl.Trainer:
    """One device, no checkpoints, no model summary. One process per job: Lightning must not take over SLURM's
    signals (its SLURM environment would requeue the job itself; submitit requeues sgen's jobs)."""
    return pl.Trainer(max_epochs=max_epochs, accelerator=accelerator, devices=1, precision=precision,
                      logger=loggers or False, enable_checkpointing=False, enable_progress_bar=progress,
                      enable_model_summary=False, log_every_n_steps=5, plugins=[LightningEnvironment()],
                      callbacks=callbacks, **extra)
