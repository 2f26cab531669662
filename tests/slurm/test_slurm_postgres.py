"""A sweep on the one-node SLURM cluster whose jobs share the query cache on a real PostgreSQL server
(SGEN_CACHE_URL with a password, exported at submission): nested budgets run side by side pay each query once, and
the password is in none of the files the sweep, submitit or SLURM leave."""
from __future__ import annotations

import pytest

from sgen.budget.cache_postgres import PostgresQueryCache
from tests.conftest import TINY, read_metrics, run_sgen
from tests.postgres_server import PASSWORD

pytestmark = [pytest.mark.slurm, pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("slurm")]


def test_a_slurm_sweep_shares_the_postgres_cache(slurm_cluster, postgres_server, tmp_path):
    url = postgres_server.create_database()
    sweep = tmp_path / "sweep"
    # Two budgets of one strategy and seed, side by side (array_parallelism 2): the 100q job's queries are the
    # first 100 of the 300q job's.
    run_sgen("-m", "hydra/launcher=slurm_local", *TINY, "strategy=new_answer", "budget=100q,300q",
             f"hydra.sweep.dir={sweep}",
             env={**slurm_cluster.env, "SGEN_CACHE_URL": url, "SGEN_CACHE_DIR": str(tmp_path / "cache"),
                  "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}, timeout=600, subprocess_cli=True)
    small, large = read_metrics(sweep / "0"), read_metrics(sweep / "1")
    assert (small["queries_used"], large["queries_used"]) == (100, 300)
    assert small["queries_paid"] + large["queries_paid"] == 300  # the largest budget, not the sum
    with PostgresQueryCache(url) as cache:
        assert cache.count() == 300 and cache.claim_count() == 0
    assert not (tmp_path / "cache" / "queries.sqlite").exists()  # the jobs used the server, not a local file
    # Job scripts, submitit pickles and logs, Hydra's saved configs, sgen's outputs: no password anywhere.
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith("_submission.sh") for p in written) and any(p.suffix == ".pkl" for p in written)
    assert [p for p in written if PASSWORD.encode() in p.read_bytes()] == []
    log = next(sweep.rglob("*_log.err")).read_text() + next(sweep.rglob("*_log.out")).read_text()
    assert "postgresql://sgen:***@127.0.0.1" in log + (sweep / "0" / "config_resolved.yaml").read_text()
