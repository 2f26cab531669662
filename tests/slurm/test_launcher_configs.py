"""The SLURM launcher configs compose, resolve, and become the sbatch flags they promise (no cluster needed)."""
from __future__ import annotations

from unittest import mock

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

from sgen.config import CONFIG_DIR
from tests.conftest import TINY

LAUNCHERS = {
    # name: (partition, cpus, gpus, mem GB, minutes, array parallelism, USR2 lead s)
    "slurm_cpu": (None, 4, None, 16, 120, 32, 120),
    "slurm_gpu": (None, 8, 1, 64, 240, 16, 180),
    "slurm_local": ("debug", 1, None, 2, 15, 2, 30),
}


def launcher_config(name: str, *overrides: str):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("config", overrides=[f"hydra/launcher={name}", *TINY, *overrides],
                          return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    cfg.hydra.sweep.dir = "/scratch/sweeps/s1"  # what Hydra sets at launch time; `${now:...}` otherwise
    return cfg.hydra.launcher


def sbatch_script(launcher_cfg) -> str:
    """The batch script submitit would submit, built the way the plugin's launch() builds its executor."""
    import submitit
    from submitit.slurm.slurm import SlurmExecutor

    params = {k: v for k, v in OmegaConf.to_container(launcher_cfg, resolve=True).items() if k != "_target_"}
    # SlurmExecutor refuses to be built unless `srun` is on PATH (its affinity() check); writing the script needs
    # neither SLURM nor a cluster, so these tests pretend it is there (the slurm-marked tests start a real one).
    with mock.patch.object(SlurmExecutor, "affinity", classmethod(lambda cls: 2)):
        executor = submitit.AutoExecutor(folder=params.pop("submitit_folder"), cluster="slurm",
                                         slurm_max_num_timeout=params.pop("max_num_timeout"))
    base = {"timeout_min", "cpus_per_task", "gpus_per_node", "tasks_per_node", "mem_gb", "nodes", "name",
            "stderr_to_stdout"}
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
    # A private helper, but the only way to see the script without a cluster; pinned by hydra-submitit-launcher.
    return executor._executor._make_submission_file_text("python -u -m submitit.core._submit /x", "uid")


@pytest.mark.parametrize("name", sorted(LAUNCHERS))
def test_launcher_config_extends_submitit_slurm(name):
    cfg = launcher_config(name)
    partition, cpus, gpus, mem, minutes, parallel, lead = LAUNCHERS[name]
    assert cfg._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (cfg.partition, cfg.cpus_per_task, cfg.gpus_per_node, cfg.mem_gb, cfg.timeout_min) == \
        (partition, cpus, gpus, mem, minutes)
    assert (cfg.array_parallelism, cfg.signal_delay_s) == (parallel, lead)
    assert cfg.max_num_timeout >= 2  # requeue on time-out: the query cache makes a rerun resume
    assert cfg.submitit_folder == "/scratch/sweeps/s1/.submitit/%j"
    assert type(instantiate(cfg)).__name__ == "SlurmLauncher"

    script = sbatch_script(cfg)
    assert f"#SBATCH --cpus-per-task={cpus}\n" in script and f"#SBATCH --mem={mem}GB\n" in script
    assert f"#SBATCH --time={minutes}\n" in script and f"#SBATCH --signal=USR2@{lead}\n" in script
    assert ("#SBATCH --gpus-per-node=1\n" in script) == (gpus == 1)
    assert (f"#SBATCH --partition={partition}\n" in script) == (partition is not None)
    assert "export OMP_NUM_THREADS=" in script and "export TOKENIZERS_PARALLELISM=false" in script


def test_launcher_fields_override_from_the_command_line():
    cfg = launcher_config("slurm_cpu", "hydra.launcher.partition=short", "hydra.launcher.timeout_min=30",
                          "+hydra.launcher.additional_parameters.account=myproject")
    script = sbatch_script(cfg)
    assert "#SBATCH --partition=short\n" in script and "#SBATCH --time=30\n" in script
    assert "#SBATCH --account=myproject\n" in script
