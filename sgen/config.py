"""Where the Hydra config root lives, from a source checkout or an installed wheel."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

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


def sweep_group(mode: Any, sweep_dir: str) -> str | None:
    """The W&B group of a run: its sweep (the sweep folder as written, or the last two parts of an absolute one;
    W&B allows 128 characters), so the runs of one sweep and the report's summary run sit together. A single run
    has none."""
    if not str(mode).endswith("MULTIRUN"):
        return None
    path = Path(sweep_dir)
    name = "/".join(path.parts[-2:]) if path.is_absolute() else path.as_posix()
    return name[-128:]


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("queries_for_ratio", queries_for_ratio, replace=True)
    OmegaConf.register_new_resolver("sweep_group", sweep_group, replace=True)


register_resolvers()  # at import: every process that composes or resolves sgen's config has imported this module

# `budget=300` reads like a budget of 300 queries, but Hydra parses the number as an int and refuses it as a group
# option; sgen takes any count a user would write (300, 300q, 2.5k, 1M; sweeps too: budget=100,2.5k) as
# budget.queries. Values that are all budget options (budget=1k, budget=ratio) stay group choices.
_BUDGET_ARG = re.compile(r"^budget=(?P<values>[^=()\[\]]+)$")
_COUNT = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>[kKmM]?)[qQ]?$")
_UNITS = {"": 1, "k": 1_000, "m": 1_000_000}


class BudgetSpellingError(ValueError):
    """A budget on the command line that is neither a budget option nor a whole number of queries."""


def budget_options() -> set[str]:
    return {p.stem for p in (CONFIG_DIR / "budget").glob("*.yaml")}


def query_count(value: str) -> int | None:
    """A query count as a user spells it (300, 300q, 2.5k, 1M); None when `value` is not a count."""
    match = _COUNT.match(value.strip())
    if match is None:
        return None
    count = float(match["number"]) * _UNITS[match["unit"].lower()]
    if not count.is_integer():
        raise BudgetSpellingError(f"budget={value} is not a whole number of queries; write a whole count such as "
                                  f"budget={int(count)} or budget.queries={int(count)}")
    return int(count)


def numeric_budget_overrides(argv: list[str]) -> list[str]:
    """Command-line overrides with `budget=<count>[,<count>...]` spelled as budget.queries=..."""
    return [_budget_override(arg) for arg in argv]


def _budget_override(arg: str) -> str:
    match = _BUDGET_ARG.match(arg)
    if match is None:
        return arg
    values = [v.strip() for v in match["values"].split(",")]
    options = budget_options()
    if all(v in options for v in values):
        return arg
    counts = [query_count(v) for v in values]
    if any(c is None for c in counts):
        return arg  # Hydra names the unknown option and lists the valid ones
    return "budget.queries=" + ",".join(str(c) for c in counts)


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
