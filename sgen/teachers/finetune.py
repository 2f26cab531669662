"""Fine-tune the teacher on the seed set before it generates (Kaddour & Liu 2024), with LoRA through PEFT.

The adapter is keyed on what determines it: the teacher's weights, the content of the seed pairs it learns (seed
data and prompt wording) and the fine-tuning settings. It is saved once under <sgen cache>/teacher_adapters/<key>
and every later run with the same seed pairs and teacher loads it instead of training. The teacher's model_id then
names the adapter, so query-cache keys and sampling seeds differ from the base teacher's.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sgen.assets import cache_root
from sgen.cache_keys import cache_key, content_digest
from sgen.config import finetune_off
from sgen.records import Example
from sgen.students.settings import LoRASettings, TrainSettings
from sgen.students.sft import apply_finetune, causal_features, fit_sft

log = logging.getLogger(__name__)

METHODS = ("lora",)


@dataclass(frozen=True)
class TeacherFinetune:
    """teacher.finetune: `lora` for the defaults, or a block {method: lora, r: 8, alpha: 16, epochs: 3, ...}."""

    method: str = "lora"
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] | str | None = None  # None: PEFT's default for the architecture
    epochs: int = 3
    min_steps: int = 0
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    max_length: int = 512
    precision: str = "auto"
    train_seed: int = 0  # fixed, not the run seed: every run with this seed set shares one adapter
    # LoRA dropout masks from 16 random bits per element on a CPU (sgen/students/fast_dropout.py): all-linear LoRA
    # on SmolLM2 draws 210 masks per forward; finetune_grid_cpu's steps ran 1.08x faster with them.
    fast_dropout: bool = True

    @classmethod
    def from_config(cls, value: Any) -> TeacherFinetune | None:
        """None / "none" / "null" -> no fine-tuning; "lora" -> defaults; a mapping -> those settings."""
        if finetune_off(value):
            return None
        raw = {"method": value} if isinstance(value, str) else dict(value)
        valid = set(cls.__dataclass_fields__)
        unknown = set(raw) - valid
        if unknown:
            raise ValueError(f"unknown teacher.finetune settings {sorted(unknown)}; valid: {sorted(valid)}")
        if raw.get("method", "lora") not in METHODS:
            raise ValueError(f"teacher.finetune.method={raw['method']!r} is not valid; valid: {', '.join(METHODS)}")
        targets = raw.get("target_modules")
        if targets is not None and not isinstance(targets, str):
            raw["target_modules"] = tuple(targets)
        settings = cls(**raw)
        settings.train_settings("cpu").checked("teacher.finetune")  # bad values found before any query
        return settings

    def pair_epochs(self, n_pairs: int) -> int:
        """Examples the fine-tuning passes over: whole epochs, as many as min_steps needs (fit_sft's rule)."""
        from sgen.throughput import training_work

        return training_work(asdict(self), n_pairs)[1]

    @property
    def lora(self) -> LoRASettings:
        return LoRASettings(self.r, self.alpha, self.dropout, self.target_modules)

    def train_settings(self, accelerator: str) -> TrainSettings:
        return TrainSettings(epochs=self.epochs, min_steps=self.min_steps, batch_size=self.batch_size,
                             grad_accum=self.grad_accum, lr=self.lr, weight_decay=self.weight_decay,
                             warmup_ratio=self.warmup_ratio, precision=self.precision, accelerator=accelerator)


@dataclass
class FinetuneReport:
    """What metrics.json says about the teacher's fine-tuning."""

    method: str
    adapter_key: str
    adapter_dir: str
    trained: bool  # False: an adapter from an earlier run with the same seed set and teacher was reused
    n_pairs: int
    seconds: float
    train_steps: int = 0
    train_loss_first: float | None = None
    train_loss_final: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def adapter_key(teacher_id: str, pairs: Sequence[Any], settings: TeacherFinetune,
                accelerator: str = "auto") -> str:
    """The adapter's cache key: the teacher, the content of the (prompt, target) pairs it learns (prompt wording and
    seed data both; their order is moot) and the fine-tuning settings."""
    # The resolved precision, not 'auto': an adapter trained in fp32 is not the one a bf16 machine would train.
    finetune = {**asdict(settings), "precision": settings.train_settings(accelerator).resolved_precision}
    return cache_key({"teacher": teacher_id, "pairs": content_digest(pairs, ordered=False), "finetune": finetune},
                     length=16)


def check_finetunable(teacher) -> None:
    if not hasattr(teacher, "attach_adapter"):
        raise ValueError(f"teacher.finetune needs a local transformers teacher (teacher=hf, smollm2 or tiny); got "
                         f"{type(teacher).__name__}, which has no weights to fine-tune")


def finetune_teacher(teacher, task, seed_set: Sequence[Example], settings: TeacherFinetune,
                     adapters_dir: Path | None = None) -> FinetuneReport:
    """Train (or reuse) the teacher's adapter on task.sft_pairs(seed_set), then attach it to `teacher`.
    Adapters live under `adapters_dir` (default: the sgen cache, shared by every run)."""
    check_finetunable(teacher)
    pairs = task.sft_pairs(seed_set)
    key = adapter_key(teacher.model_id, pairs, settings, _accelerator(teacher))
    target = (adapters_dir or cache_root() / "teacher_adapters") / key
    t0 = time.perf_counter()
    report = FinetuneReport(settings.method, key, str(target), trained=False, n_pairs=len(pairs), seconds=0.0,
                            settings=asdict(settings))
    if (target / "adapter_config.json").exists():
        log.info("teacher adapter %s found: reusing %s (no training)", key, target)
    else:
        fit = _train_adapter(teacher, pairs, settings, target)
        per_epoch = -(-len(pairs) // settings.batch_size)
        report.trained, report.train_steps = True, fit.steps
        report.train_loss_first, report.train_loss_final = fit.loss_first, fit.loss_final(per_epoch)
    teacher.attach_adapter(str(target), key)
    report.seconds = time.perf_counter() - t0
    return report


def _train_adapter(teacher, pairs, settings: TeacherFinetune, target: Path):
    """LoRA on the teacher's own loaded weights; the adapter is saved, then removed so the base model is pristine
    again and attach_adapter loads it the same way a later run does."""
    teacher.load()
    model, tokenizer = teacher.model, teacher.tokenizer
    log.info("fine-tuning teacher %s with LoRA on %d seed pairs", teacher.model_id, len(pairs))
    peft_model = apply_finetune(model, "lora", settings.lora, "CAUSAL_LM", settings.fast_dropout)
    fit = fit_sft(peft_model, causal_features(tokenizer, pairs, settings.max_length), tokenizer.pad_token_id,
                  settings.train_settings(_accelerator(teacher)), settings.train_seed)
    _save_atomically(peft_model, target)
    teacher.set_model(peft_model.unload())  # the base weights, LoRA layers taken out
    return fit


def _accelerator(teacher) -> str:
    """Train where the teacher already sits."""
    return device_accelerator(teacher.device.type)


def device_accelerator(device_type: str) -> str:
    """Lightning's name for a torch device type."""
    return "gpu" if device_type == "cuda" else device_type


def _save_atomically(peft_model, target: Path) -> None:
    """Write beside the target and rename: concurrent jobs of a sweep never load a half-written adapter."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        peft_model.save_pretrained(str(tmp))
        os.rename(tmp, target)
        log.info("teacher adapter saved to %s", target)
    except OSError:
        if not (target / "adapter_config.json").exists():
            raise
        log.info("another job saved teacher adapter %s first; using it", target.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
