"""`python -m sgen`: the Hydra entry point. Returns the optimised metric(s) so sweepers (Optuna) can use them."""
from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from sgen.config import CONFIG_DIR, BudgetSpellingError, numeric_budget_overrides, prepare_environment

DEBUG_HINT = "(traceback: SGEN_DEBUG=1)"
SET_BY_SGEN = "SGEN_SET_HYDRA_FULL_ERROR"  # marks a HYDRA_FULL_ERROR that entry() set, not the user


def debugging() -> bool:
    """The user asked for tracebacks (sgen's flag or Hydra's)."""
    hydra_flag = os.environ.get("HYDRA_FULL_ERROR") == "1" and os.environ.get(SET_BY_SGEN) != "1"
    return os.environ.get("SGEN_DEBUG") == "1" or hydra_flag


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def main(cfg: DictConfig) -> float | list[float]:
    from sgen.errors import UserInputError
    from sgen.job import run_job  # heavy imports after Hydra parsed the command line (fast --help and --cfg)

    try:
        return run_job(cfg)
    except UserInputError as error:
        if debugging():
            raise
        sys.exit(f"sgen: error: {error} {DEBUG_HINT}")


def composition_error_line(error: BaseException) -> str:
    """Hydra's message for a command line it cannot compose, on one line: what is wrong and, for an unknown option,
    the valid ones (Hydra prints them one per line, then its search path)."""
    from omegaconf.errors import OmegaConfBaseException

    kept = []
    for line in str(error).splitlines():
        if line.startswith("Config search path:"):
            break
        if line.strip() and not line.startswith(("\t", "Available options in")):
            kept.append(line.strip().rstrip("."))
    cause = error.__cause__
    if isinstance(cause, OmegaConfBaseException):  # e.g. "Key 'foo' is not in struct" under "Could not override"
        kept += [line.strip() for line in str(cause).splitlines()[:1]]
    options = getattr(error, "options", None)
    if options:
        kept.append(f"valid options: {', '.join(options)}")
    return "; ".join(kept)


def entry() -> None:
    prepare_environment()
    try:
        sys.argv[1:] = numeric_budget_overrides(sys.argv[1:])
    except BudgetSpellingError as exc:
        sys.exit(f"sgen: error: {exc}")
    if debugging():
        main()  # Hydra's own reporting, full tracebacks
        return
    from hydra.errors import ConfigCompositionException, OverrideParseException, SearchPathException

    # Hydra prints what it cannot compose as a multi-line report; with HYDRA_FULL_ERROR set it raises instead, and
    # the command line's errors (raised only while composing) become one line here. Everything else propagates with
    # its traceback, as Hydra would print it with the flag: internal errors keep theirs.
    os.environ.update({"HYDRA_FULL_ERROR": "1", SET_BY_SGEN: "1"})
    try:
        main()
    except (ConfigCompositionException, OverrideParseException, SearchPathException) as error:
        sys.exit(f"sgen: error: {composition_error_line(error)} (traceback: HYDRA_FULL_ERROR=1)")
    finally:
        for name in ("HYDRA_FULL_ERROR", SET_BY_SGEN):
            os.environ.pop(name, None)


if __name__ == "__main__":
    entry()
