"""Training settings shared by every student and by the teacher fine-tuning (one place for what 'auto' means)."""
from __future__ import annotations

from dataclasses import dataclass

from sgen.devices import lightning_precision


@dataclass(frozen=True)
class TrainSettings:
    """How long and how fast to train; shared by the students and the teacher fine-tuning."""

    epochs: int = 3
    min_steps: int = 0  # optimizer steps at least, so a tiny seed set still gets enough updates
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    precision: str = "auto"  # bf16-mixed on bf16 GPUs and bf16 CPUs, else 16-mixed / 32-true; any Lightning string
    accelerator: str = "auto"
    progress: bool = False

    def checked(self, where: str) -> TrainSettings:
        """These settings, or a ValueError naming the bad one as `where.<name>` (found before any query)."""
        bounds = [("epochs", self.epochs >= 1, ">= 1"), ("min_steps", self.min_steps >= 0, ">= 0"),
                  ("batch_size", self.batch_size >= 1, ">= 1"), ("grad_accum", self.grad_accum >= 1, ">= 1"),
                  ("lr", self.lr > 0, "> 0"), ("weight_decay", self.weight_decay >= 0, ">= 0"),
                  ("warmup_ratio", 0 <= self.warmup_ratio < 1, "in [0, 1)")]
        for name, ok, bound in bounds:
            if not ok:
                raise ValueError(f"{where}.{name} must be {bound}, got {getattr(self, name)}")
        return self

    @property
    def resolved_precision(self) -> str:
        """What 'auto' means on this machine: cache keys must hold this, not 'auto'."""
        return lightning_precision(self.precision, self.accelerator)


@dataclass(frozen=True)
class LoRASettings:
    """PEFT LoRA hyper-parameters. target_modules None lets PEFT pick its default for the architecture
    (llama: q_proj, v_proj; gpt2: c_attn; t5: q, v); "all-linear" adapts every linear layer."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] | str | None = None

    @classmethod
    def from_config(cls, cfg) -> LoRASettings:
        cfg = dict(cfg or {})
        unknown = set(cfg) - {"r", "alpha", "dropout", "target_modules"}
        if unknown:
            raise ValueError(f"unknown LoRA settings {sorted(unknown)}; valid: r, alpha, dropout, target_modules")
        targets = cfg.get("target_modules")
        if targets is not None and not isinstance(targets, str):
            cfg["target_modules"] = tuple(targets)
        return cls(**cfg)
