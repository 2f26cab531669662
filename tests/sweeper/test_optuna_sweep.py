"""Optuna mix sweeps through `python -m sgen -m`: discovery, SQLite persistence and resume, Pareto front, failures."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tests.conftest import TINY, read_metrics, run_sgen

WEIGHTS = ["strategy.weights.new_answer", "strategy.weights.rephrase", "strategy.weights.new_question"]
SMALL = [*TINY, "budget=100q"]


def sweep(sweep_dir: Path, *overrides: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_sgen("-m", *SMALL, f"hydra.sweep.dir={sweep_dir}", *overrides, check=check)


def load_study(sweep_dir: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{sweep_dir / 'optuna.db'}")


def job_dirs(sweep_dir: Path) -> list[str]:
    return sorted(p.name for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit())


def job_overrides(job_dir: Path) -> dict[str, str]:
    lines = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text())
    return dict(line.split("=", 1) for line in lines)


def test_hydra_discovers_the_installed_plugin_outside_the_repo(tmp_path):
    """From another directory only the installed package can provide hydra_plugins.sgen_optuna_sweeper, and the
    namespace must still merge with the installed submitit launcher."""
    code = ("from hydra.core.plugins import Plugins\n"
            "from hydra.plugins.sweeper import Sweeper\nfrom hydra.plugins.launcher import Launcher\n"
            "print([p.__name__ for p in Plugins.instance().discover(Sweeper)])\n"
            "print([p.__name__ for p in Plugins.instance().discover(Launcher)])\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                          check=True)
    sweepers, launchers = proc.stdout.splitlines()
    assert "SgenOptunaSweeper" in sweepers and "BasicSweeper" in sweepers
    assert "SubmititLauncher" in launchers
    info = subprocess.run([sys.executable, "-m", "sgen", "hydra/sweeper=sgen_optuna", "--cfg", "hydra", "-p",
                           "hydra.sweeper"], cwd=tmp_path, capture_output=True, text=True, env=env, check=True)
    conf = yaml.safe_load(info.stdout)
    assert conf["_target_"].endswith("SgenOptunaSweeper") and conf["n_trials"] == 20 and conf["storage"] is None


def test_mix_study_persists_and_resumes_without_redoing_trials(tmp_path):
    out = tmp_path / "sweep"
    sweep(out, "experiment=optuna_mix", "hydra.sweeper.n_trials=3")
    first = load_study(out, "optuna_mix").trials
    assert [t.state for t in first] == [TrialState.COMPLETE] * 3
    assert job_dirs(out) == ["0", "1", "2"]
    stamps = {n: (out / str(n) / "metrics.json").stat().st_mtime_ns for n in range(3)}

    proc = sweep(out, "experiment=optuna_mix", "hydra.sweeper.n_trials=5")
    assert "3 of 5 trials finished" in proc.stdout + proc.stderr
    trials = load_study(out, "optuna_mix").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    assert job_dirs(out) == ["0", "1", "2", "3", "4"]
    for old, new in zip(first, trials[:3]):
        assert (new.params, new.values, new.datetime_start) == (old.params, old.values, old.datetime_start)
    assert {n: (out / str(n) / "metrics.json").stat().st_mtime_ns for n in range(3)} == stamps
    for trial in trials:  # each job ran with its own trial's parameters, and the trial holds that job's accuracy
        job = out / str(trial.number)
        assert trial.user_attrs["output_dir"] == str(job)
        ran = job_overrides(job)
        assert all(float(ran[w]) == pytest.approx(trial.params[w]) for w in WEIGHTS)
        assert int(ran["verifier.k"]) == trial.params["verifier.k"]
        assert trial.values == [read_metrics(job)["accuracy"]]
    results = yaml.safe_load((out / "optimization_results.yaml").read_text())
    assert results["trial_states"] == {"complete": 5}
    assert results["best"]["values"]["accuracy"] == max(t.values[0] for t in trials)
    assert set(results["best"]["params"]) == set(WEIGHTS) | {"verifier.k", "teacher.text_generation.temperature"}


def test_multi_objective_sweep_writes_the_pareto_front(tmp_path):
    out = tmp_path / "sweep"
    sweep(out, "experiment=optuna_pareto", "hydra.sweeper.n_trials=3")
    results = yaml.safe_load((out / "optimization_results.yaml").read_text())
    assert results["directions"] == ["maximize", "minimize"]
    assert results["metric_names"] == ["accuracy", "completion_tokens"]
    front = results["pareto_front"]
    assert front, "a study with completed trials has a non-empty Pareto front"
    points = {t["number"]: t["values"] for t in results["trials"]}
    assert len(points) == 3
    for member in front:
        metrics = read_metrics(Path(member["output_dir"]))
        assert member["values"] == {"accuracy": metrics["accuracy"], "completion_tokens": metrics["completion_tokens"]}
        for other in points.values():  # no trial is at least as good on both objectives and better on one
            dominates = (other["accuracy"] >= member["values"]["accuracy"]
                         and other["completion_tokens"] <= member["values"]["completion_tokens"]
                         and other != member["values"])
            assert not dominates


def test_diversity_is_an_objective_the_sweeper_can_optimise(tmp_path):
    out = tmp_path / "sweep"
    sweep(out, "experiment=optuna_pareto", "hydra.sweeper.n_trials=2",
          "optimized_metric=[accuracy,diversity.vendi_synthetic]", "hydra.sweeper.direction=[maximize,maximize]")
    results = yaml.safe_load((out / "optimization_results.yaml").read_text())
    assert results["metric_names"] == ["accuracy", "diversity.vendi_synthetic"]
    for trial in results["trials"]:
        metrics = read_metrics(Path(trial["output_dir"]))
        assert trial["values"]["diversity.vendi_synthetic"] == metrics["diversity"]["vendi_synthetic"] >= 1.0


def test_trials_left_running_by_a_dead_sweeper_are_failed_and_rerun(tmp_path):
    """A sweeper killed mid-batch leaves its trials RUNNING; the next sweeper fails them (their owner is gone) and
    runs n_trials finished ones. A trial a live sweeper runs would count toward n_trials instead."""
    out = tmp_path / "sweep"
    out.mkdir()
    study = optuna.create_study(study_name="optuna_mix", storage=f"sqlite:///{out / 'optuna.db'}",
                                direction="maximize")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = study.ask()
    orphan.set_user_attr("sweeper", f"{socket.gethostname()}:{dead.pid}:")
    proc = sweep(out, "experiment=optuna_mix", "hydra.sweeper.n_trials=2")
    assert "trial 0 was left running by a sweeper that is gone" in proc.stdout + proc.stderr
    trials = load_study(out, "optuna_mix").trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert all(t.user_attrs["sweeper"].startswith(f"{socket.gethostname()}:") for t in trials)


def test_a_trial_just_asked_by_another_sweeper_is_not_an_orphan(tmp_path):
    """Between asking for a trial and signing it, another sweeper sharing the study sees it unsigned: it must not
    fail it then (seen in the two-sweeper PostgreSQL test); unsigned for longer than the grace, it is an orphan."""
    import datetime as dt

    from hydra_plugins.sgen_optuna_sweeper._impl import UNSIGNED_GRACE_S, _owner_alive

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}")
    study.ask()
    trial = study.get_trials()[0]
    assert _owner_alive(trial)
    trial.datetime_start = dt.datetime.now() - dt.timedelta(seconds=UNSIGNED_GRACE_S + 1)
    assert not _owner_alive(trial)


def test_failed_trial_is_recorded_as_fail_and_the_study_goes_on(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    study = optuna.create_study(study_name="optuna_mix", storage=f"sqlite:///{out / 'optuna.db'}",
                                direction="maximize")
    study.enqueue_trial({w: 0.0 for w in WEIGHTS})  # all-zero mix weights: the job fails (before any query)
    sweep(out, "experiment=optuna_mix", "hydra.sweeper.n_trials=3")
    trials = load_study(out, "optuna_mix").trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert "NaN" in trials[0].user_attrs["fail_reason"]
    status = json.loads((out / "0" / "status.json").read_text())
    assert status["status"] == "failed" and "weights" in status["error"]
    assert not (out / "0" / "metrics.json").exists()
    results = yaml.safe_load((out / "optimization_results.yaml").read_text())
    assert results["trial_states"] == {"fail": 1, "complete": 2}
    assert results["best"]["number"] in (1, 2)


BAD_SPACE = """\
# @package _global_
defaults:
  - override /hydra/sweeper: sgen_optuna
  - override /strategy: mix
hydra:
  sweeper:
    n_trials: 2
    params:
      {key}: {value}
"""


NEW_ANSWER = "strategy.weights.new_answer"


@pytest.mark.parametrize("key, value, extra, message", [
    (NEW_ANSWER, "interval(0,", [], f"'{NEW_ANSWER}=interval(0,' is not valid Hydra override syntax"),
    (NEW_ANSWER, "glob(*)", [], "Glob sweeps have no Optuna distribution"),
    ("strategy.weights.new_anwser", "interval(0, 1)", [], "new_anwser"),
    (NEW_ANSWER, "interval(0, 1)", ["optimized_metric=[accuracy,completion_tokens]"], "one direction per metric"),
    (NEW_ANSWER, "interval(0, 1)", ["hydra.sweeper.sampler.name=cmaes"], "valid: ['tpe', 'random', 'nsga2']"),
])
def test_bad_sweep_set_up_fails_clearly_before_any_job(tmp_path, key, value, extra, message):
    confs = tmp_path / "conf" / "experiment"
    confs.mkdir(parents=True)
    (confs / "bad_space.yaml").write_text(BAD_SPACE.format(key=key, value=value))
    out = tmp_path / "sweep"
    proc = sweep(out, f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "experiment=bad_space", *extra, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not out.exists() or (not job_dirs(out) and not (out / "optuna.db").exists())
