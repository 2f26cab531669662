"""What a run's teacher queries cost: each backend's price per million tokens applied to the ledger's tokens by role.

A price is known only where it is: set in the config, or a hosted model on its provider's own API whose list price
sgen ships below. Anything else (a local vLLM, TGI or llama.cpp server; another provider) has cost_usd null, not
a guess. Local weights cost no money per query (0).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from sgen.teachers.base import Teacher

# USD per million (prompt, completion) tokens, by (API host, model): OpenAI's published list prices (2025).
# Set teacher.backend.price_per_million_prompt_tokens / _completion_tokens to override or to price another server.
LIST_PRICES: dict[tuple[str, str], tuple[float, float]] = {
    ("api.openai.com", "gpt-4o-mini"): (0.15, 0.60),
    ("api.openai.com", "gpt-4o"): (2.50, 10.00),
    ("api.openai.com", "gpt-4.1"): (2.00, 8.00),
    ("api.openai.com", "gpt-4.1-mini"): (0.40, 1.60),
    ("api.openai.com", "gpt-4.1-nano"): (0.10, 0.40),
}


def list_price(base_url: str, model: str) -> tuple[float, float] | None:
    """The shipped list price of `model` served at `base_url`, or None."""
    return LIST_PRICES.get((urlsplit(base_url).hostname or "", model))


def total(costs: Iterable[float | None]) -> float | None:
    """A sum that is unknown (None) as soon as one part is."""
    values = list(costs)
    return None if any(v is None for v in values) else float(sum(values))


def backend_cost(backend: Teacher, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD for these tokens on this backend; None when its price is unknown. No tokens cost nothing."""
    if not (prompt_tokens or completion_tokens):
        return 0.0
    return backend.cost_usd(prompt_tokens, completion_tokens)


def run_cost(ledger_summary: Mapping[str, Any], backends_by_role: Mapping[str, Teacher]) -> dict[str, Any]:
    """`cost_usd` and `cost_usd_by_role` for metrics.json, at list price for every query the run used (None where
    a price is unknown).

    Queries answered from the query cache are priced too: the figure is what the experiment costs on its own,
    which is what a budget decision needs; `queries_paid` / `queries_cached` say how much of it this run paid.
    """
    prompt = ledger_summary["prompt_tokens_by_role"]
    completion = ledger_summary["completion_tokens_by_role"]
    by_role = {role: backend_cost(backend, int(prompt.get(role, 0)), int(completion.get(role, 0)))
               for role, backend in backends_by_role.items()}
    return {"cost_usd": total(by_role.values()), "cost_usd_by_role": by_role}
