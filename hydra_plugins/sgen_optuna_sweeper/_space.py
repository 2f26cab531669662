"""Search space: Hydra override syntax (interval, choice, range, tag(log, ...)) to Optuna distributions and back."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep, Transformer
from hydra.errors import HydraException
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

VALID_FORMS = ("interval(a,b)", "int(interval(a,b))", "tag(log, interval(a,b))", "choice(a,b,...)", "a,b,...",
               "range(start,stop[,step])", "a fixed value")


class SearchSpaceError(ValueError):
    """A search-space entry that is not Hydra override syntax or has no Optuna distribution."""


@dataclass
class SearchSpace:
    """What Optuna samples (distributions) and what every trial gets unchanged (fixed overrides)."""

    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)
    # For categorical parameters: sampled value -> its text in a Hydra override (quoting, lists, null).
    _choice_text: dict[str, dict[Any, str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, params: Mapping[str, Any], arguments: Sequence[str]) -> SearchSpace:
        """Parse the sweeper's `params` (key -> override value) and the command line's overrides."""
        lines = [f"{key}={value}" for key, value in params.items()] + list(arguments)
        space = cls()
        parser = OverridesParser.create()
        for line in lines:
            try:
                override = parser.parse_override(line)
            except HydraException as exc:
                raise SearchSpaceError(f"search-space entry {line!r} is not valid Hydra override syntax ({exc}); "
                                       f"valid forms: {', '.join(VALID_FORMS)}") from exc
            if override.is_sweep_override():
                space._add_sweep(line, override)
            else:
                space.fixed.append(line)
        swept_keys = {_bare_key(k) for k in space.distributions}
        clash = [line for line in space.fixed if _bare_key(line.split("=", 1)[0]) in swept_keys]
        if clash:
            raise SearchSpaceError(f"{clash} fix parameters that the search space also samples; keep one of them")
        return space

    def _add_sweep(self, line: str, override: Override) -> None:
        key = override.get_key_element()
        if key in self.distributions:
            raise SearchSpaceError(f"search-space entry {line!r} repeats parameter {key!r}")
        try:
            self.distributions[key] = self._distribution(key, override)
        except SearchSpaceError:
            raise
        except (ValueError, TypeError, HydraException) as exc:
            raise SearchSpaceError(f"search-space entry {line!r}: {exc}") from exc

    def _distribution(self, key: str, override: Override) -> BaseDistribution:
        value = override.value()
        if isinstance(value, IntervalSweep):
            unknown = set(value.tags) - {"log"}
            if unknown:
                raise SearchSpaceError(f"{key}: tags {sorted(unknown)} mean nothing to Optuna; the only valid tag is "
                                       f"'log'")
            log = "log" in value.tags
            if isinstance(value.start, int) and isinstance(value.end, int):
                return IntDistribution(value.start, value.end, log=log)
            return FloatDistribution(float(value.start), float(value.end), log=log)
        if isinstance(value, RangeSweep) and not value.shuffle and all(
                isinstance(v, int) for v in (value.start, value.stop, value.step)):
            values = list(override.sweep_iterator(transformer=Transformer.identity))
            if not values:
                raise SearchSpaceError(f"{key}: {override.input_line!r} is an empty range")
            # Hydra's range excludes stop; Optuna's high is inclusive, so its high is the range's last value.
            return IntDistribution(values[0], values[-1], step=value.step) if value.step > 0 else \
                CategoricalDistribution(values)
        if isinstance(value, (ChoiceSweep, RangeSweep)):
            return self._categorical(key, override)
        raise SearchSpaceError(f"{key}: {type(value).__name__} sweeps have no Optuna distribution; valid forms: "
                               f"{', '.join(VALID_FORMS)}")

    def _categorical(self, key: str, override: Override) -> CategoricalDistribution:
        texts: dict[Any, str] = {}
        for element in override.sweep_iterator(transformer=Transformer.identity):
            # Optuna stores str/int/float/bool/None; anything else (a list, a dict) is stored as its override text.
            texts[Transformer.encode(element)] = Transformer.str(element)
        self._choice_text[key] = texts
        return CategoricalDistribution(list(texts))

    def overrides(self, params: Mapping[str, Any]) -> list[str]:
        """The Hydra overrides of one trial: its sampled parameters, then the fixed ones."""
        lines = []
        for key in self.distributions:
            value = params[key]
            text = self._choice_text[key][value] if key in self._choice_text else Transformer.str(value)
            lines.append(f"{key}={text}")
        return lines + self.fixed

    def corner(self) -> dict[str, Any]:
        """One valid point (each parameter's low end or first choice), for checking the config composes."""
        point: dict[str, Any] = {}
        for key, dist in self.distributions.items():
            point[key] = dist.choices[0] if isinstance(dist, CategoricalDistribution) else dist.low  # type: ignore
        return point


def _bare_key(key: str) -> str:
    return key.lstrip("+~")
