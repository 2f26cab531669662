"""Where the Hydra config root lives, from a source checkout or an installed wheel."""
from __future__ import annotations

import os
import re
from pathlib import Path

from omegaconf import OmegaConf

_PACKAGE = Path(__file__).resolve().parent
# A checkout (and editable install) uses the top-level conf/; a wheel carries a copy inside the package.
CONFIG_DIR = next((p for p in (_PACKAGE.parent / "conf", _PACKAGE / "conf") if (p / "config.yaml").exists()),
                  _PACKAGE.parent / "conf")


def finetune_off(value) -> bool:
    """teacher.finetune as written in a config: null, "none", "null", "false" or "" mean no fine-tuning."""
    return value is None or (isinstance(value, str) and value.lower() in ("none", "null", "false", ""))


def queries_for_ratio(ratio: float, seed_size: int) -> int:
    """A budget given on the paper's axis: ratio x seed set size teacher queries (conf/budget/ratio.yaml)."""
    if float(ratio) < 0:
        raise ValueError(f"budget.ratio must be >= 0, got {ratio}")
    return int(round(float(ratio) * int(seed_size)))


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("queries_for_ratio", queries_for_ratio, replace=True)


register_resolvers()  # at import: every process that composes or resolves sgen's config has imported this module

# `budget=300` reads like a budget of 300 queries, but Hydra parses the number as an int and refuses it as a group
# option; sgen takes it as budget.queries (sweeps too: budget=100,1000).
_NUMERIC_BUDGET = re.compile(r"^budget=(\d+(?:,\d+)*)$")


def numeric_budget_overrides(argv: list[str]) -> list[str]:
    """Command-line overrides with `budget=<number>[,<number>...]` spelled as budget.queries=..."""
    return [_NUMERIC_BUDGET.sub(r"budget.queries=\1", arg) for arg in argv]


def prepare_environment() -> None:
    """Keep runs off the network by default: W&B offline without an API key, tokenizers without fork warnings."""
    if not os.environ.get("WANDB_API_KEY"):
        os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def quiet_third_party_logs() -> None:
    """Lightning's start-up banners drown the run's own log lines."""
    import logging

    for name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
