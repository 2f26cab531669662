"""The run's own settings (budget, seed, batch sizes, sampling), checked before anything is built or paid for.

The task, strategy, student and teacher check their own settings when they are built; these are the ones that
belong to no component, or are read only once generation starts.
"""
from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig

from sgen.records import GenerationParams
from sgen.redact import redact_url, url_password


def whole_number(value: Any, key: str, minimum: int, hint: str = "") -> int:
    """`value` as an int, or a ValueError naming the key, the value and what to give instead."""
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
        raise ValueError(f"{key}={value!r} is not a whole number{hint}")
    if value < minimum:
        raise ValueError(f"{key} must be >= {minimum}, got {value}{hint}")
    return int(value)


def budget_settings(cfg: DictConfig) -> tuple[int | None, float | None]:
    """(query count, dollar cap) of the run's budget, checked; either may be None (no cap), not both."""
    usd = cfg.budget.get("usd")
    if usd is not None:
        if isinstance(usd, bool) or not isinstance(usd, int | float) or not math.isfinite(usd) or usd < 0:
            raise ValueError(f"budget.usd={usd!r} is not a number of dollars >= 0; give e.g. budget=usd "
                             "budget.usd=2.50")
        usd = float(usd)
    queries = cfg.budget.get("queries")
    if queries is None and usd is None:
        raise ValueError("the budget has neither budget.queries nor budget.usd; give one, e.g. budget=300 or "
                         "budget=usd budget.usd=2.50")
    if queries is not None:
        queries = whole_number(queries, "budget.queries", 0, "; give a count of teacher queries, e.g. budget=300 "
                               "or budget=2.5k")
    return queries, usd


def check_priced(usd: float | None, queries: int | None, backends: dict[str, Any]) -> None:
    """Under a dollar cap every backend that answers queries needs a known price; without a query count as well,
    a free one would never end the run, and with one, not all may be free."""
    if usd is None:
        return
    prices = {role: backend.cost_usd(1_000_000, 1_000_000) for role, backend in backends.items()}
    for role, price in prices.items():
        if price is None:
            raise ValueError(f"budget.usd={usd:g} needs the price of every model it pays, but the {role} "
                             f"{backends[role].model_id} has none; set {role}.backend.price_per_million_prompt_tokens "
                             "and price_per_million_completion_tokens")
    free = {role: backends[role].model_id for role, price in prices.items() if price == 0}
    if free and (queries is None or len(free) == len(backends)):
        role, name = next(iter(free.items()))
        raise ValueError(f"budget.usd={usd:g} but the {role} {name} costs nothing per token (local weights), so "
                         f"dollars cannot end the run; price it ({role}.backend.price_per_million_prompt_tokens and "
                         "_completion_tokens, e.g. what a GPU-hour buys) or give a query count, e.g. budget=300")


def check_run_settings(cfg: DictConfig) -> tuple[int | None, float | None]:
    """Check the run's own settings; return its budget (query count, dollar cap)."""
    budget = budget_settings(cfg)
    check_cache_url(cfg.get("cache"))
    whole_number(cfg.seed, "seed", 0)
    for key in ("round_size", "query_batch_size"):
        whole_number(cfg[key], key, 1)
    for role in ("teacher", "augmenter"):
        node = cfg.get(role)
        for kind in ("label_generation", "text_generation"):
            if node is not None and node.get(kind) is not None:
                check_sampling(GenerationParams(**node[kind]), f"{role}.{kind}")
    return budget


def check_cache_url(cache_cfg) -> None:
    """A password typed into cache.url (command line or YAML) is saved by Hydra with the run (.hydra/); one taken
    from the environment (${oc.env:SGEN_CACHE_URL}) is not. Refuse the first before anything runs."""
    if cache_cfg is None or "url" not in cache_cfg:
        return
    node = cache_cfg._get_node("url")
    if node._is_interpolation() or node._value() is None:
        return
    url = str(node._value())
    if url_password(url):
        raise ValueError(f"cache.url={redact_url(url)!r} carries a password, which Hydra saves with the run's "
                         "config (.hydra/); put the URL in SGEN_CACHE_URL, or the password in PGPASSWORD or "
                         "~/.pgpass, and leave it out of cache.url")


def check_sampling(params: GenerationParams, where: str) -> None:
    if params.max_new_tokens < 1:
        raise ValueError(f"{where}.max_new_tokens must be >= 1, got {params.max_new_tokens}")
    if params.temperature < 0:
        raise ValueError(f"{where}.temperature must be >= 0 (0 = greedy), got {params.temperature}")
    if not 0 < params.top_p <= 1:
        raise ValueError(f"{where}.top_p must be in (0, 1], got {params.top_p}")
