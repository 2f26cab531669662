"""End to end: `python -m sgen teacher=openai` against the fault server; the ledger matches what the server served,
the budget holds, the cost lands in metrics.json, and the API key is in no file the run wrote and in no output."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import read_jsonl, read_metrics, run_sgen
from tests.teachers.fault_server import FaultServer

KEY_ENV = "SGEN_E2E_OPENAI_KEY"
KEY = "sk-e2e-5b8d1f0c9a7e4263"
RATES = {"429": 0.08, "500": 0.05, "503": 0.03, "slow": 0.02, "truncated": 0.04, "malformed": 0.04,
         "bad_schema": 0.03}


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


def test_openai_run_survives_faults_books_exactly_what_was_served_and_never_leaks_the_key(tmp_path):
    run_dir, cache_dir = tmp_path / "run", tmp_path / "cache"
    # Only "slow" answers (3 s) outlast the client's 2 s timeout: a served answer the client gave up on would be
    # paid on a real API but never booked, and this test would rightly fail.
    with FaultServer(rates=RATES, slow_seconds=3.0, api_key=KEY, max_requests=400, max_seconds=300, seed=1) as server:
        proc = run_sgen(
            "teacher=openai", f"teacher.backend.base_url={server.base_url}", f"teacher.backend.api_key_env={KEY_ENV}",
            "teacher.backend.timeout=2.0", "teacher.backend.max_retries=12", "teacher.backend.backoff_base=0.02",
            "teacher.backend.backoff_max=0.2", "teacher.backend.concurrency=8",
            # A local server has no list price: this run prices it as if it were gpt-4o-mini's API.
            "teacher.backend.price_per_million_prompt_tokens=0.15",
            "teacher.backend.price_per_million_completion_tokens=0.60",
            "student=tiny", "strategy=new_answer", "budget=100q", "logger=wandb", "progress=false", "task.test_size=200",
            "task.unlabeled_size=2000", f"hydra.run.dir={run_dir}",
            env={KEY_ENV: KEY, "SGEN_CACHE_DIR": str(cache_dir), "WANDB_MODE": "offline"}, timeout=300)
    served = server.stats
    metrics = read_metrics(run_dir)

    # Every query completed despite the faults, and the ledger books exactly the successful responses.
    assert sum(n for outcome, n in served.outcomes.items() if outcome != "ok") > 0
    assert metrics["queries_used"] == metrics["queries_paid"] == served.ok == 100
    assert metrics["prompt_tokens"] == served.ok_prompt_tokens
    assert metrics["completion_tokens"] == served.ok_completion_tokens
    assert metrics["queries_used"] <= metrics["budget"] == 100
    journal = read_jsonl(run_dir / "queries.jsonl")
    assert len(journal) == 100 and sum(q["prompt_tokens"] for q in journal) == served.ok_prompt_tokens
    # The server's keyword labels are valid labels: every annotation parses and is kept.
    assert metrics["n_synthetic"] == 100 and metrics["parse_failure_rate"] == 0.0

    # Cost at the configured prices ($0.15 / $0.60 per million tokens).
    expected = (served.ok_prompt_tokens * 0.15 + served.ok_completion_tokens * 0.60) / 1e6
    assert metrics["cost_usd"] == pytest.approx(expected)
    assert metrics["cost_usd_by_role"]["teacher"] == pytest.approx(expected)

    # The key was really used (the server checks it) but is nowhere in what the run wrote or printed.
    assert served.auth_headers[True] > 100
    written = files_under(run_dir, cache_dir)
    assert any(".hydra" in p.parts for p in written) and any("wandb" in p.parts for p in written)
    leaked = [str(p) for p in written if KEY.encode() in p.read_bytes()]
    assert leaked == []
    assert KEY not in proc.stdout and KEY not in proc.stderr
    saved = json.dumps(read_metrics(run_dir)) + (run_dir / "config_resolved.yaml").read_text()
    assert KEY_ENV in saved  # the variable's name is recorded, its value is not
