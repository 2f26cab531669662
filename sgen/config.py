"""Where the Hydra config root lives, from a source checkout or an installed wheel."""
from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# A checkout (and editable install) uses the top-level conf/; a wheel carries a copy inside the package.
CONFIG_DIR = next((p for p in (_PACKAGE.parent / "conf", _PACKAGE / "conf") if (p / "config.yaml").exists()),
                  _PACKAGE.parent / "conf")


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
