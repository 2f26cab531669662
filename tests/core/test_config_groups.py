"""Every option of every config group composes with the real config and instantiates."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate

from sgen.config import CONFIG_DIR
from tests.conftest import BANKING77_DIR

GROUPS = ["teacher", "augmenter", "student", "task", "strategy", "budget", "verifier", "logger", "experiment"]


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml"))


def _required(group: str, option: str, tmp_path: Path) -> list[str]:
    """Values an option leaves to the user (???), filled with local files."""
    if (group, option) == ("teacher", "hf"):
        from sgen.tiny import tiny_causal_lm

        for part in tiny_causal_lm("llama"):
            part.save_pretrained(tmp_path / "teacher")
        return [f"teacher.backend.model={tmp_path}/teacher", "teacher.backend.device=cpu"]
    if (group, option) == ("student", "encoder"):
        from sgen.tiny import tiny_encoder

        for part in tiny_encoder():
            part.save_pretrained(tmp_path / "encoder")
        return [f"student.model={tmp_path}/encoder"]
    if (group, option) == ("task", "custom"):
        csv = tmp_path / "data.csv"
        csv.write_text("review,stars\n" + "".join(f"text number {i},{'good' if i % 2 else 'bad'}\n" for i in range(60)))
        return [f"task.source.train_file={csv}", "task.source.text_column=review", "task.source.label_column=stars",
                "task.seed_size=10", "task.test_size=10"]
    if (group, option) == ("task", "banking77"):
        return [f"task.source.data_dir={BANKING77_DIR}"]  # a committed sample
    return []


CASES = [(g, o) for g in GROUPS for o in _options(g)]


def test_every_group_has_options():
    assert {g for g, _ in CASES} == set(GROUPS)
    assert {"100q", "300q", "1k", "3k", "10k", "30k", "100k"} <= set(_options("budget"))


def _set_hydra_runtime(*overrides: str) -> None:
    """What a `python -m sgen` run has: Hydra's own config (mode, sweep dir, choices) set for `${hydra:...}`."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        HydraConfig.instance().set_config(compose("config", overrides=list(overrides), return_hydra_config=True))


@pytest.mark.parametrize("group,option", CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_option_composes_and_instantiates(group, option, tiny_cfg, tmp_path):
    cfg = tiny_cfg(f"{group}={option}", *_required(group, option, tmp_path))
    node = cfg.get(group)
    if group == "experiment":
        assert cfg.task and cfg.strategy  # a whole study on top of the defaults
        return
    if group == "budget":
        from sgen.run_checks import budget_settings

        queries, usd = budget_settings(cfg)
        assert (queries or 0) >= 0 and (usd or 0) >= 0 and (queries, usd) != (None, None)
        return
    target = node.backend if group in ("teacher", "augmenter", "judge") else node
    if group == "logger":  # its W&B group and job type come from Hydra's runtime (the sweep, the strategy choice)
        _set_hydra_runtime(f"{group}={option}")
    obj = instantiate(target)
    assert obj is not None
    if group == "task":
        data = obj.load(seed=0)
        assert len(data.seed) == cfg.task.seed_size and data.test and not {e.id for e in data.seed} & {
            e.id for e in data.unlabeled}
        if option == "banking77":  # the committed sample keeps every intent
            assert len(data.labels) == 77
    if group in ("teacher", "augmenter"):
        assert obj.model_id
    if group == "strategy":
        assert obj.name in {"new_answer", "rephrase", "new_question", "mix", "annotate"}


@pytest.mark.parametrize("launcher", sorted(p.stem for p in (Path(CONFIG_DIR) / "hydra" / "launcher").glob("*.yaml")))
def test_launcher_configs_compose(launcher):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert "submitit" in cfg.hydra.launcher._target_.lower()
    GlobalHydra.instance().clear()


def _compose(*overrides: str):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return compose("config", overrides=list(overrides))
    finally:
        GlobalHydra.instance().clear()


@pytest.mark.parametrize("overrides, student", [
    (["task=gsm8k"], "sgen.students.generative.GenerativeStudent"),  # a generation task brings a student that generates
    ([], "sgen.students.trainer.ClassifierStudent"),
    (["task=banking77"], "sgen.students.trainer.ClassifierStudent"),
    (["task=gsm8k", "student=seq2seq"], "sgen.students.seq2seq.Seq2SeqStudent"),  # an explicit student wins
    (["student=seq2seq", "task=gsm8k"], "sgen.students.seq2seq.Seq2SeqStudent"),
    (["task=gsm8k", "student=tiny"], "sgen.students.trainer.ClassifierStudent"),
    (["experiment=ratio_grid_tiny", "task=gsm8k"], "sgen.students.trainer.ClassifierStudent"),
])
def test_a_task_brings_its_default_student_and_an_explicit_one_wins(overrides, student):
    assert _compose(*overrides).student._target_ == student
