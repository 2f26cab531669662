"""A tiny-model sweep submitted as a real SLURM array job through hydra/launcher=slurm_local."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import TINY, read_metrics, run_sgen

# A real cluster and real jobs take a minute or more: slow as well, so `make test-fast` leaves them out.
pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.xdist_group("slurm")]  # one cluster, one worker

STRATEGIES = ("new_answer", "rephrase")
SEEDS = (0, 1)


def submitit_job_dirs(sweep: Path) -> dict[str, Path]:
    """submitit's per-task folders `.submitit/<array job id>_<task id>`, by their SLURM job id."""
    return {p.name: p for p in (sweep / ".submitit").iterdir() if re.fullmatch(r"\d+_\d+", p.name)}


@pytest.fixture(scope="module")
def slurm_sweep(slurm_cluster, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("slurm-sweep")
    sweep, cache_dir = root / "sweep", root / "cache"
    # -m goes before the overrides; the jobs inherit this environment through sbatch (--export=ALL by default).
    run_sgen("-m", "hydra/launcher=slurm_local", *TINY, "budget=100q", f"strategy={','.join(STRATEGIES)}",
             f"seed={','.join(map(str, SEEDS))}", f"hydra.sweep.dir={sweep}",
             env={**slurm_cluster.env, "SGEN_CACHE_DIR": str(cache_dir), "OMP_NUM_THREADS": "1",
                  "WANDB_MODE": "offline"}, timeout=600, subprocess_cli=True)
    return sweep


def test_every_job_of_the_sweep_ran_and_wrote_metrics(slurm_sweep):
    runs = sorted(p for p in slurm_sweep.iterdir() if p.name.isdigit())
    assert [p.name for p in runs] == ["0", "1", "2", "3"]
    grid = set()
    for run in runs:
        metrics = read_metrics(run)
        assert json.loads((run / "status.json").read_text())["status"] == "ok"
        assert metrics["queries_used"] == metrics["budget"] == 100
        assert 0.0 <= metrics["accuracy"] <= 1.0
        grid.add((metrics["strategy"], metrics["seed"]))
    assert grid == {(s, seed) for s in STRATEGIES for seed in SEEDS}


def test_the_jobs_ran_as_one_slurm_array(slurm_sweep, slurm_cluster):
    job_dirs = submitit_job_dirs(slurm_sweep)
    array_ids = {name.split("_")[0] for name in job_dirs}
    assert len(array_ids) == 1 and sorted(n.split("_")[1] for n in job_dirs) == ["0", "1", "2", "3"]
    array_id = array_ids.pop()
    for name, folder in job_dirs.items():
        # submitit logs the SLURM environment it found inside the job: the job id is SLURM's array task id.
        log_out = next(folder.glob("*_log.out")).read_text()
        assert f"JobEnvironment(job_id={name}, hostname=" in log_out
    # The batch script runs this very interpreter (the venv's), which submitit takes from sys.executable.
    script = next((slurm_sweep / ".submitit").glob(f"{array_id}/*_submission.sh")).read_text()
    assert "#SBATCH --array=0-3%2" in script and f"{sys.executable} -u -m submitit.core._submit" in script

    # SLURM's own records: four completed array tasks on node localhost.
    slurm_cluster.wait_until_gone(array_id)
    done = [r for r in slurm_cluster.finished_jobs() if r.get("ArrayJobId") == array_id]
    assert sorted(r["ArrayTaskId"] for r in done) == ["0", "1", "2", "3"]
    assert all(r["JobState"] == "COMPLETED" and r["NodeList"] == "localhost" for r in done)
    sacct = slurm_cluster.run("sacct", "-o", "JobID,State,NodeList", "--parsable2", "-n")
    sacct_states = {line.split("|")[0]: line.split("|")[1] for line in sacct.splitlines() if line}
    assert all(sacct_states[r["JobId"]] == "COMPLETED" for r in done)


def test_jobs_used_the_submitting_environment(slurm_sweep):
    """SGEN_CACHE_DIR reached the jobs through sbatch: what they cache (seed-only scores, teacher answers) is there."""
    cache_dir = slurm_sweep.parent / "cache"
    # Two seeds, one student and task: two seed-only trainings, shared by both strategies of the same seed.
    assert len(list((cache_dir / "seed_only").glob("*.json"))) == len(SEEDS)
    assert (cache_dir / "queries.sqlite").exists()


def test_the_sweep_report_gathers_the_slurm_sweep(slurm_sweep):
    proc = subprocess.run([sys.executable, "-m", "sgen.report", str(slurm_sweep), "--no-wandb"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = pd.read_csv(slurm_sweep / "report" / "runs.csv")
    assert len(runs) == 4 and set(runs["status"]) == {"ok"}
    assert set(zip(runs["strategy"], runs["seed"])) == {(s, seed) for s in STRATEGIES for seed in SEEDS}
    assert (slurm_sweep / "report" / "report.html").stat().st_size > 0
