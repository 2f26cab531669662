"""A real single-node SLURM cluster for the session (launchers/local_cluster), always stopped at the end."""
from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

CLUSTER_SCRIPTS = REPO / "launchers" / "local_cluster"


@dataclass
class LocalCluster:
    dir: Path
    env: dict[str, str]  # SLURM_CONF and PATH (with the sacct shim): pass to every subprocess that talks to SLURM

    def run(self, *cmd: str, timeout: float = 30) -> str:
        """A SLURM client command (sinfo, squeue, sacct, scontrol, scancel) against this cluster; its stdout."""
        proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **self.env})
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}")
        return proc.stdout

    def wait_until_gone(self, job_id: str, timeout: float = 60) -> None:
        """Wait until a job (or every task of an array) has left the queue. submitit returns as soon as each task
        wrote its result, a moment before SLURM marks the task completed and logs it."""
        deadline = time.monotonic() + timeout
        while self.run("squeue", "-h", "-j", job_id).strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still queued after {timeout} s:\n{self.run('squeue')}")
            time.sleep(0.2)

    def finished_jobs(self) -> list[dict[str, str]]:
        """The job-completion log (jobcomp/filetxt): one dict of KEY=value fields per finished (or requeued) job.
        Unlike `sacct -c` in 22.05 it keeps ArrayJobId/ArrayTaskId, which tie a record to its array task."""
        path = self.dir / "log" / "jobcomp.log"
        if not path.exists():
            return []
        return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in path.read_text().splitlines() if line.strip()]


def _read_env(env_file: Path) -> dict[str, str]:
    env = {}
    for line in env_file.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value.replace("$PATH", os.environ.get("PATH", ""))
    return env


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory) -> LocalCluster:
    """Install slurm-wlm + munge if missing (root, ~20 s once), start munged, slurmctld and slurmd under a temp
    dir (under a second), and stop every daemon by pid afterwards, whatever the tests did."""
    if os.geteuid() != 0:  # CI containers run as root; start.sh refuses otherwise
        pytest.skip("the local SLURM cluster needs root (to install slurm-wlm/munge and run munged/slurmd)")
    cluster_dir = tmp_path_factory.mktemp("slurm")
    try:
        proc = subprocess.run(["bash", str(CLUSTER_SCRIPTS / "start.sh"), str(cluster_dir)], capture_output=True,
                              text=True, timeout=900)
        if proc.returncode != 0:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in (cluster_dir / "log").glob("*.log"))
            raise RuntimeError(f"start.sh failed ({proc.returncode}):\n{proc.stderr}\n{logs}")
        yield LocalCluster(cluster_dir, _read_env(cluster_dir / "env.sh"))
    finally:
        subprocess.run(["bash", str(CLUSTER_SCRIPTS / "stop.sh"), str(cluster_dir)], timeout=60)
