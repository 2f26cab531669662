"""A rerun into a run directory that already holds a finished run of the same config does nothing; any other config,
or an unfinished run, runs again and takes what it can from the query cache."""
from __future__ import annotations

import json

from sgen.job import run_job


def test_finished_run_is_skipped_and_a_changed_config_runs_again(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("SGEN_CACHE_DIR", str(tmp_path / "cache"))  # its own query cache: the counts below start at 0
    run_dir = tmp_path / "run"
    run_job(tiny_cfg("budget.queries=30"))
    metrics = run_dir / "metrics.json"
    first = json.loads(metrics.read_text())
    assert (first["queries_paid"], first["queries_cached"]) == (30, 0)
    stamp = metrics.stat().st_mtime_ns

    # Same config (progress only changes the display): nothing runs, nothing is rewritten.
    for overrides in ((), ("progress=true",), ("cache.lease_seconds=60",)):
        run_job(tiny_cfg("budget.queries=30", *overrides))
        assert metrics.stat().st_mtime_ns == stamp

    # A bigger budget is another experiment: it runs, and pays only the queries the first run did not ask.
    run_job(tiny_cfg("budget.queries=45"))
    second = json.loads(metrics.read_text())
    assert (second["budget"], second["queries_paid"], second["queries_cached"]) == (45, 15, 30)

    # A run that did not finish (status failed, or killed before status.json) runs again, all from the cache.
    (run_dir / "status.json").write_text(json.dumps({"status": "failed", "error": "killed"}))
    run_job(tiny_cfg("budget.queries=45"))
    third = json.loads(metrics.read_text())
    assert (third["queries_paid"], third["queries_cached"]) == (0, 45)
    assert json.loads((run_dir / "status.json").read_text())["status"] == "ok"
    journal = [json.loads(line) for line in (run_dir / "queries.jsonl").read_text().splitlines()]
    assert len(journal) == 45 and all(q["cached"] for q in journal)  # each attempt rewrites its journal
