"""One Optuna mix study on PostgreSQL, run by two sweepers at once (two 'nodes', each with its own sweep dir): the
trials of both land in one study, n_trials is the study's total, and the study shares the query cache's database."""
from __future__ import annotations

import os
import subprocess
import sys

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tests.conftest import REPO, TINY, read_metrics
from tests.postgres_server import PASSWORD

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("postgres")]


def test_two_sweepers_share_one_study_and_one_cache(tmp_path, postgres_server):
    url = postgres_server.create_database()
    env = {**os.environ, "SGEN_CACHE_URL": url}
    # The storage comes from the environment too: Hydra saves the interpolation, not the password.
    args = ["-m", *TINY, "budget=100q", "experiment=optuna_mix", "hydra.sweeper.n_trials=4",
            "hydra.sweeper.storage=${oc.env:SGEN_CACHE_URL}"]
    procs = [subprocess.Popen([sys.executable, "-m", "sgen", *args, f"hydra.sweep.dir={tmp_path / node}"], cwd=REPO,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for node in ("node-a", "node-b")]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out[-3000:]

    study = optuna.load_study(study_name="optuna_mix", storage=url.replace("postgresql://", "postgresql+psycopg://"))
    trials = study.trials
    # n_trials counts the study's trials: two sweepers stop together at 4. Counting and asking are two steps, so
    # both may ask the last one at the same moment: at most one over.
    assert 4 <= len(trials) <= 5 and all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.number for t in trials}) == len(trials)
    ran_in = {t.user_attrs["output_dir"].split("/")[-2] for t in trials}
    assert ran_in == {"node-a", "node-b"}  # both sweepers ran trials of the one study
    for trial in trials:  # none lost: each holds the accuracy its job wrote
        assert trial.values == [read_metrics(tmp_path / trial.user_attrs["output_dir"])["accuracy"]]
    for node in ("node-a", "node-b"):
        results = yaml.safe_load((tmp_path / node / "optimization_results.yaml").read_text())
        assert results["storage"].startswith("postgresql+psycopg://sgen:***@127.0.0.1")
    # The jobs' queries went to the same database: the cache's tables sit beside Optuna's.
    import psycopg

    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
    paid = sum(read_metrics(tmp_path / t.user_attrs["output_dir"])["queries_paid"] for t in trials)
    assert stored == paid > 0
    assert PASSWORD not in "".join(outputs)
    assert [p for p in tmp_path.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()] == []


def test_a_password_typed_into_the_storage_is_refused_before_any_trial(tmp_path, postgres_server):
    from tests.conftest import run_sgen

    proc = run_sgen("-m", *TINY, "budget=100q", "experiment=optuna_mix", "hydra.sweeper.n_trials=1",
                    f"hydra.sweeper.storage={postgres_server.url('postgres')}", f"hydra.sweep.dir={tmp_path / 's'}",
                    check=False)
    assert proc.returncode != 0 and "carries a password" in proc.stderr and PASSWORD not in proc.stderr
    assert not (tmp_path / "s" / "0").exists()
