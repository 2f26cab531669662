"""`python -m sgen`: the Hydra entry point. Returns the optimised metric so sweepers (Optuna) can use it."""
from __future__ import annotations

import hydra
from omegaconf import DictConfig

from sgen.config import CONFIG_DIR, prepare_environment


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def main(cfg: DictConfig) -> float:
    from sgen.run import run  # heavy imports after Hydra parsed the command line (fast --help and --cfg)

    metrics = run(cfg)
    return float(metrics[cfg.optimized_metric])


def entry() -> None:
    prepare_environment()
    main()


if __name__ == "__main__":
    entry()
