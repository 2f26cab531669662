"""The embedded default with the real bundled models: SmolLM2-135M teacher, all-MiniLM-L6-v2 student, tweets."""
from __future__ import annotations

import os

import pytest

from tests.conftest import read_jsonl, read_metrics, run_sgen

pytestmark = pytest.mark.slow


def test_default_run_beats_majority_baseline(tmp_path):
    out = tmp_path / "run"
    cache = tmp_path / "cache"
    run_sgen("progress=false", "budget.queries=64", f"hydra.run.dir={out}", env={"SGEN_CACHE_DIR": str(cache)},
             timeout=1800, subprocess_cli=True)  # what `make run` does
    m = read_metrics(out)
    assert m["teacher"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert m["queries_used"] <= 64 and m["queries_used"] >= 63
    assert m["accuracy"] > m["majority_baseline_accuracy"], m
    assert m["seed_only"]["accuracy"] > m["majority_baseline_accuracy"]
    rows = read_jsonl(out / "synthetic.jsonl")
    assert len(rows) == m["n_synthetic_generated"] and m["n_synthetic"] > 0
    assert m["parse_failure_rate"] < 0.5  # a real teacher's output mostly parses
    # The GGUF teacher was dequantized once into the cache; later loads take the fast path.
    converted = list((cache / "converted").glob("SmolLM2-135M-Instruct*/config.json"))
    assert len(converted) == 1
    assert os.path.getsize(converted[0].parent / "model.safetensors") > 100e6
