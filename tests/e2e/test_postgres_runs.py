"""Real runs on the PostgreSQL query cache (SGEN_CACHE_URL, with a password): paid once, nested budgets reuse
work, a killed job's claims are taken over by another 'host', a plan reads the store without changing it, and the
password appears in nothing sgen writes."""
from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sgen.budget import MeteredTeacher, QueryLedger
from sgen.teachers.hf import tiny_teacher
from tests.budget.helpers import PARAMS, open_cache, prompts
from tests.conftest import REPO, TINY, read_jsonl, read_metrics, run_sgen
from tests.postgres_server import PASSWORD

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("postgres")]


@pytest.fixture
def cache_url(postgres_server):
    return postgres_server.create_database()


def files_containing(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_nested_runs_pay_each_query_once_and_no_file_holds_the_password(tmp_path, cache_url):
    env = {"SGEN_CACHE_URL": cache_url}
    common = [*TINY, "strategy=new_question", "logger=wandb"]
    small = run_sgen(*common, "budget=100q", f"hydra.run.dir={tmp_path / 'small'}", env=env)
    large = run_sgen(*common, "budget=300q", f"hydra.run.dir={tmp_path / 'large'}", env=env)
    again = run_sgen(*common, "budget=300q", f"hydra.run.dir={tmp_path / 'again'}", env=env)
    paid = [read_metrics(tmp_path / name)["queries_paid"] for name in ("small", "large", "again")]
    assert paid[0] >= 99 and paid[0] + paid[1] == read_metrics(tmp_path / "large")["queries_used"] and paid[2] == 0
    rows = [[(r["text"], r["label"], r["kept"]) for r in read_jsonl(tmp_path / name / "synthetic.jsonl")]
            for name in ("large", "again")]
    assert rows[0] == rows[1]  # the same synthetic set, the second time entirely from the store
    with open_cache({"url": cache_url}) as cache:
        assert cache.count() == read_metrics(tmp_path / "large")["queries_used"] and cache.claim_count() == 0
    # The URL reached the run (its log names the store), its password nowhere: config, logs, metrics, W&B files.
    log_text = (tmp_path / "small" / "sgen.log").read_text() if (tmp_path / "small" / "sgen.log").exists() else ""
    log_text += small.stderr + small.stdout
    assert "postgresql://sgen:***@127.0.0.1" in log_text
    assert "postgresql://sgen:***@" in (tmp_path / "small" / "config_resolved.yaml").read_text()
    assert list((tmp_path / "small").rglob("*.wandb")), "the offline W&B run is part of what is checked"
    assert files_containing(tmp_path, PASSWORD) == []
    assert PASSWORD not in small.stderr + small.stdout + large.stderr + again.stderr


def test_a_plan_reads_the_postgres_cache_and_changes_nothing(tmp_path, cache_url):
    env = {"SGEN_CACHE_URL": cache_url}
    run_sgen(*TINY, "strategy=new_question", "budget=100q", f"hydra.run.dir={tmp_path / 'paid'}", env=env)
    with open_cache({"url": cache_url}) as cache:
        before = cache.count()
    plan = run_sgen("-m", *TINY, "strategy=new_question", "budget=100q,300q", "hydra/launcher=plan",
                    f"hydra.sweep.dir={tmp_path / 'plan'}", env=env)
    with open_cache({"url": cache_url}) as cache:
        assert cache.count() == before and cache.claim_count() == 0
    out = plan.stdout + plan.stderr
    assert PASSWORD not in out
    with open(tmp_path / "plan" / "plan.csv", encoding="utf-8") as f:
        jobs = [{k: int(v) for k, v in row.items() if k in ("used", "paid", "cached")} for row in csv.DictReader(f)]
    assert jobs[0] == {"used": before, "paid": 0, "cached": before}  # the 100q job: all in the store already
    assert jobs[1]["cached"] == before and jobs[1]["paid"] == jobs[1]["used"] - before


def test_a_password_typed_into_cache_url_is_refused_before_anything_runs(tmp_path, postgres_server):
    proc = run_sgen(*TINY, "budget=100q", f"cache.url={postgres_server.url('postgres')}",
                    f"hydra.run.dir={tmp_path / 'r'}", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "carries a password" in line and "SGEN_CACHE_URL" in line and PASSWORD not in line
    assert not (tmp_path / "r" / "metrics.json").exists()


def test_an_unreachable_server_is_one_line_before_any_query(tmp_path, postgres_server):
    url = postgres_server.url("postgres").replace(f":{postgres_server.port}/", ":1/")
    proc = run_sgen(*TINY, "budget=100q", f"hydra.run.dir={tmp_path / 'r'}", check=False,
                    env={"SGEN_CACHE_URL": url})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("sgen: error: cannot reach the query cache at postgresql://sgen:***@127.0.0.1:1/")
    assert PASSWORD not in proc.stderr and not (tmp_path / "r" / "queries.jsonl").exists()


_HOLDER = """
import sys, time
from tests.budget.helpers import PARAMS, SlowTeacher, open_cache, prompts
from sgen.budget import MeteredTeacher, QueryLedger
from sgen.teachers.hf import tiny_teacher
backend = SlowTeacher(tiny_teacher(batch_size=8), seconds_per_call=0.5)
backend.inner.load()
cache = open_cache({"url": sys.argv[1]}, host="node-a", lease_seconds=float(sys.argv[2]))
MeteredTeacher(backend, QueryLedger(40), "teacher", batch_size=8, cache=cache).ask(prompts(40), PARAMS, "label")
"""


def test_a_job_killed_on_one_host_is_taken_over_by_another_after_its_lease(tmp_path, cache_url):
    """kill -9 of a job on 'node-a' while it holds claims; a job on 'node-b' cannot check node-a's pids, so it
    waits for the lease, then takes the claims over: it pays only what node-a had not committed, and the answers
    are the ones an uninterrupted run gives."""
    lease = 4.0
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, cache_url, str(lease)], cwd=REPO,
                              stderr=subprocess.PIPE, text=True)
    watcher = open_cache({"url": cache_url})
    deadline = time.time() + 120
    while not (watcher.count() >= 8 and watcher.claim_count() > 0):  # some answers in, more claimed
        assert holder.poll() is None, holder.stderr.read()[-2000:]
        assert time.time() < deadline
        time.sleep(0.05)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    committed, claimed = watcher.count(), watcher.claim_count()
    watcher.close()
    assert claimed > 0

    backend = tiny_teacher(batch_size=8)
    backend.load()
    started = time.time()
    with open_cache({"url": cache_url}, host="node-b", lease_seconds=lease) as cache:
        ledger = QueryLedger(40)
        records = MeteredTeacher(backend, ledger, "teacher", batch_size=8, cache=cache).ask(
            prompts(40), PARAMS, "label")
        assert cache.stats["taken_over"] == claimed and cache.claim_count() == 0
    assert (ledger.summary()["queries_paid"], ledger.cached) == (40 - committed, committed)
    assert time.time() - started < 60
    with open_cache({"path": str(tmp_path / "fresh.sqlite")}) as fresh:
        uninterrupted = MeteredTeacher(backend, QueryLedger(40), "teacher", batch_size=8, cache=fresh).ask(
            prompts(40), PARAMS, "label")
    assert [r.text for r in records] == [r.text for r in uninterrupted]
