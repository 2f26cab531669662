"""A mix splits one budget over several strategies by weight; what one part cannot spend passes to the next."""
from __future__ import annotations

from collections.abc import Mapping

from sgen.records import SyntheticRow, TaskData
from sgen.strategies.base import Flow, GenerationContext, Strategy


def split_dollars(usd: float, weights: Mapping[str, float]) -> dict[str, float]:
    """Dollar shares proportional to weights."""
    total = sum(weights.values())
    return {k: usd * w / total for k, w in weights.items()}


def split_budget(budget: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Integer shares proportional to weights (largest remainder), summing exactly to budget."""
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"mix weights must be >= 0 with a positive sum, got {dict(weights)}")
    total = sum(weights.values())
    exact = {k: budget * w / total for k, w in weights.items()}
    shares = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: (shares[k] - exact[k], k))[: budget - sum(shares.values())]:
        shares[k] += 1
    return shares


class Mix(Strategy):
    name = "mix"

    def __init__(self, weights: Mapping[str, float], components: Mapping[str, Strategy]) -> None:
        unknown = set(weights) - set(components)
        if unknown:
            raise ValueError(f"mix weights name unknown strategies {sorted(unknown)}; valid: {sorted(components)}")
        negative = {k: float(v) for k, v in weights.items() if float(v) < 0}
        if negative:
            raise ValueError(f"mix weights must be >= 0, got {negative}; use 0 to leave a strategy out")
        self.weights = {k: float(v) for k, v in weights.items() if float(v) > 0}
        if not self.weights:
            raise ValueError(f"mix weights are all 0 ({ {k: float(v) for k, v in weights.items()} }); give at least "
                             "one strategy a positive weight, e.g. strategy.weights.rephrase=1")
        self.components = {k: components[k] for k in self.weights}

    def check(self, data: TaskData, budget: int | None, verifier) -> None:
        shares = split_budget(budget, self.weights) if budget is not None else dict.fromkeys(self.weights)
        for name, share in shares.items():
            self.components[name].check(data, share, verifier)

    def generate(self, ctx: GenerationContext, verifier, budget: int | None,
                 usd: float | None = None) -> list[SyntheticRow]:
        """Each strategy in turn spends its share of the queries and, under a dollar cap, of the dollars."""
        ledger = ctx.ledger
        usd = ledger.usd if usd is None else usd
        queries = split_budget(budget, self.weights) if budget is not None else dict.fromkeys(self.weights)
        dollars = split_dollars(usd, self.weights) if usd is not None else dict.fromkeys(self.weights)
        rows: list[SyntheticRow] = []
        carry, carry_usd = 0, 0.0
        for name in self.weights:
            start, start_usd = ledger.used, ledger.spent_usd
            share = None if queries[name] is None else queries[name] + carry
            share_usd = None if dollars[name] is None else dollars[name] + carry_usd
            rows.extend(self.components[name].generate(ctx, verifier, share, share_usd))
            if share is not None:
                carry = share - (ledger.used - start)
            if share_usd is not None:
                carry_usd = share_usd - (ledger.spent_usd - start_usd)
        return rows

    def flows(self) -> Mapping[str, Flow]:  # pragma: no cover - Mix delegates whole budgets, never rounds
        raise NotImplementedError("mix delegates whole budgets to its components")
