"""The run's own settings (budget, seed, batch sizes, sampling), checked before anything is built or paid for.

The task, strategy, student and teacher check their own settings when they are built; these are the ones that
belong to no component, or are read only once generation starts.
"""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from sgen.records import GenerationParams


def whole_number(value: Any, key: str, minimum: int, hint: str = "") -> int:
    """`value` as an int, or a ValueError naming the key, the value and what to give instead."""
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
        raise ValueError(f"{key}={value!r} is not a whole number{hint}")
    if value < minimum:
        raise ValueError(f"{key} must be >= {minimum}, got {value}{hint}")
    return int(value)


def check_run_settings(cfg: DictConfig) -> None:
    whole_number(cfg.budget.queries, "budget.queries", 0, "; give a count of teacher queries, e.g. budget=300 "
                 "or budget=2.5k")
    whole_number(cfg.seed, "seed", 0)
    for key in ("round_size", "query_batch_size"):
        whole_number(cfg[key], key, 1)
    for role in ("teacher", "augmenter"):
        node = cfg.get(role)
        for kind in ("label_generation", "text_generation"):
            if node is not None and node.get(kind) is not None:
                check_sampling(GenerationParams(**node[kind]), f"{role}.{kind}")


def check_sampling(params: GenerationParams, where: str) -> None:
    if params.max_new_tokens < 1:
        raise ValueError(f"{where}.max_new_tokens must be >= 1, got {params.max_new_tokens}")
    if params.temperature < 0:
        raise ValueError(f"{where}.temperature must be >= 0 (0 = greedy), got {params.temperature}")
    if not 0 < params.top_p <= 1:
        raise ValueError(f"{where}.top_p must be in (0, 1], got {params.top_p}")
