"""Multiruns as users type them: `python -m sgen -m a=x,y b=...` and `experiment=ratio_grid` (the paper's grid)."""
from __future__ import annotations

import itertools
import json

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

from sgen.config import CONFIG_DIR
from tests.report.sweep import GRID_JOBS, tiny_sweep

BUDGETS = {"100q": 100, "300q": 300, "1k": 1000, "3k": 3000, "10k": 10000}


def expand(*overrides: str) -> list[list[str]]:
    """The jobs Hydra's basic sweeper launches for `python -m sgen -m <overrides>`: the experiment's
    hydra.sweeper.params first, then the command line (which wins on a shared key), as BasicSweeper.sweep does."""
    parser = OverridesParser.create()
    # Hydra composes the sweep's config from the command line without its sweep overrides (a,b lists).
    fixed = [o.input_line for o in parser.parse_overrides(list(overrides)) if not o.is_sweep_override()]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=fixed, return_hydra_config=True)
    params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.params or {}).items()]
    parsed = parser.parse_overrides([*params, *overrides])
    [jobs] = BasicSweeper.split_arguments(parsed, max_batch_size=None)
    return jobs


def compose_job(job: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("config", overrides=job)


def axes(jobs: list[list[str]]) -> set[tuple]:
    def value(job, key):
        return next(o.split("=", 1)[1] for o in job if o.split("=", 1)[0] == key)
    return {(value(j, "task.seed_size"), value(j, "budget"), value(j, "strategy"), value(j, "seed")) for j in jobs}


def test_ratio_grid_is_the_papers_grid():
    jobs = expand("experiment=ratio_grid")
    assert len(jobs) == 2 * 5 * 3 * 3
    assert axes(jobs) == set(itertools.product(["100", "1000"], BUDGETS, ["new_answer", "rephrase", "new_question"],
                                               ["0", "1", "2"]))
    # Every job composes, and the ratio spans 0.1 .. 100 as the paper's grid does.
    ratios = set()
    for job in jobs[:: 7] + [jobs[-1]]:
        cfg = compose_job(job)
        assert cfg.strategy._target_.rsplit(".", 1)[-1] in {"NewAnswer", "Rephrase", "NewQuestion"}
        ratios.add(cfg.budget.queries / cfg.task.seed_size)
    assert min(ratios) == pytest.approx(0.1) and max(ratios) == pytest.approx(100)


def test_ratio_grid_cpu_is_the_published_study():
    # results/ratio_grid_cpu ran this: 2 seed sizes x 4 ratios from 1 to 30 x 3 strategies x 3 seeds.
    jobs = expand("experiment=ratio_grid_cpu")
    assert len(jobs) == 2 * 4 * 3 * 3
    budgets = set()
    for job in jobs[:: 5] + [jobs[-1]]:
        cfg = compose_job(job)
        assert cfg.teacher.backend.model == "HuggingFaceTB/SmolLM2-135M-Instruct" and cfg.student.min_steps == 20
        budgets.add((cfg.task.seed_size, cfg.budget.queries))
    ratios = {q / n for n, q in budgets}
    assert min(ratios) == 1 and max(ratios) == 30


def test_finetune_grid_cpu_is_annotation_by_a_tuned_teacher_on_the_same_grid():
    jobs = expand("experiment=finetune_grid_cpu")
    assert len(jobs) == 2 * 4 * 3  # the strategy axis collapses to new_answer
    cfg = compose_job(jobs[-1])
    assert cfg.strategy._target_.endswith("NewAnswer") and cfg.teacher.finetune.method == "lora"
    assert cfg.task.seed_size == 25 and cfg.budget.queries == 750


def test_ratio_grid_paper_holds_chan_et_al_design():
    jobs = expand("experiment=ratio_grid_paper")
    assert len(jobs) == 2 * 5 * 3 * 3
    cfg = compose_job(jobs[-1] + ["teacher=openai"])
    assert cfg.task.name == "gsm8k" and cfg.student._target_.endswith("GenerativeStudent")
    assert cfg.task.seed_size == 1000 and cfg.budget.queries == 100_000
    assert compose_job(jobs[0]).teacher.backend._target_.endswith("VLLMTeacher")


def test_command_line_narrows_an_axis_of_the_experiment():
    jobs = expand("experiment=ratio_grid", "strategy=rephrase,new_answer", "seed=0")
    assert len(jobs) == 2 * 5 * 2
    assert {j[3] for j in axes(jobs)} == {"0"} and {j[2] for j in axes(jobs)} == {"rephrase", "new_answer"}


def test_plain_multirun_overrides_expand_as_users_expect():
    jobs = expand("strategy=new_question,new_answer", "budget=1k,10k")
    assert sorted(map(tuple, jobs)) == sorted(
        [(f"strategy={s}", f"budget={b}") for s in ("new_question", "new_answer") for b in ("1k", "10k")])
    cfg = compose_job(["strategy=new_question", "budget=10k"])
    assert cfg.budget.queries == 10000 and cfg.strategy._target_.endswith("NewQuestion")


def test_tiny_grid_experiment_uses_tiny_models():
    jobs = expand("experiment=ratio_grid_tiny")
    assert len(jobs) == 8
    cfg = compose_job(jobs[0])
    assert cfg.teacher.backend._target_ == "sgen.teachers.hf.tiny_teacher" and cfg.student.model == "tiny-bert"
    assert cfg.task.test_size == 200 and cfg.progress is False


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return tiny_sweep(tmp_path_factory)


def test_multirun_runs_every_combination(sweep):
    grid = sweep / "grid"
    assert (grid / "multirun.yaml").exists()
    jobs = sorted(p for p in grid.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == sorted(str(i) for i in range(8))
    seen = set()
    for job in jobs:
        overrides = dict(o.split("=", 1) for o in yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()))
        metrics = json.loads((job / "metrics.json").read_text())
        assert json.loads((job / "status.json").read_text()) == {"status": "ok"}
        assert metrics["strategy"] == overrides["strategy"]
        assert metrics["budget"] == BUDGETS[overrides["budget"]] == metrics["queries_used"]
        assert metrics["seed_size"] == int(overrides["task.seed_size"])
        seen.add((metrics["strategy"], metrics["budget"], metrics["seed_size"]))
    assert seen == GRID_JOBS


def test_a_failed_job_does_not_stop_the_sweep_and_says_why(sweep):
    status = json.loads((sweep / "broken" / "0" / "status.json").read_text())
    assert status["status"] == "failed" and "task.seed_size=100000" in status["error"]
    assert not (sweep / "broken" / "0" / "metrics.json").exists()
