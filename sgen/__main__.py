"""`python -m sgen`: the Hydra entry point. Returns the optimised metric(s) so sweepers (Optuna) can use them."""
from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from sgen.config import CONFIG_DIR, BudgetSpellingError, numeric_budget_overrides, prepare_environment


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def main(cfg: DictConfig) -> float | list[float]:
    from sgen.errors import UserInputError
    from sgen.job import run_job  # heavy imports after Hydra parsed the command line (fast --help and --cfg)

    try:
        return run_job(cfg)
    except UserInputError as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or os.environ.get("SGEN_DEBUG") == "1":
            raise
        sys.exit(f"sgen: error: {error} (traceback: SGEN_DEBUG=1)")


def entry() -> None:
    prepare_environment()
    try:
        sys.argv[1:] = numeric_budget_overrides(sys.argv[1:])
    except BudgetSpellingError as exc:
        sys.exit(f"sgen: error: {exc}")
    main()


if __name__ == "__main__":
    entry()
