"""What a run's teacher queries cost: each backend's price per million tokens applied to the ledger's tokens by role."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sgen.teachers.base import Teacher


def backend_cost(backend: Teacher, prompt_tokens: int, completion_tokens: int) -> float:
    """USD for these tokens on this backend; backends without a price (local models) cost nothing."""
    price = getattr(backend, "cost_usd", None)
    return float(price(prompt_tokens, completion_tokens)) if callable(price) else 0.0


def run_cost(ledger_summary: Mapping[str, Any], backends_by_role: Mapping[str, Teacher]) -> dict[str, Any]:
    """`cost_usd` and `cost_usd_by_role` for metrics.json, at list price for every query the run used.

    Queries answered from the query cache are priced too: the figure is what the experiment costs on its own,
    which is what a budget decision needs; `queries_paid` / `queries_cached` say how much of it this run paid.
    """
    prompt = ledger_summary["prompt_tokens_by_role"]
    completion = ledger_summary["completion_tokens_by_role"]
    by_role = {role: backend_cost(backend, int(prompt.get(role, 0)), int(completion.get(role, 0)))
               for role, backend in backends_by_role.items()}
    return {"cost_usd": sum(by_role.values()), "cost_usd_by_role": by_role}
