"""Teacher fine-tuning on the seed set (Kaddour & Liu): settings, the adapter cache, and the run end to end."""
from __future__ import annotations

from pathlib import Path

import pytest

from sgen.records import GenerationParams
from sgen.teachers.finetune import TeacherFinetune, adapter_key, finetune_teacher
from sgen.teachers.hf import tiny_teacher
from tests.conftest import read_jsonl, read_metrics, run_sgen

# Strong enough that a tiny random teacher learns the digit sums (its output layer needs the adapter too).
STRONG = {"method": "lora", "r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["q_proj", "v_proj", "lm_head"],
          "epochs": 80, "batch_size": 12, "lr": 2e-2, "precision": "32-true"}


def test_settings_from_config():
    assert TeacherFinetune.from_config(None) is None
    assert TeacherFinetune.from_config("none") is None
    assert TeacherFinetune.from_config("lora") == TeacherFinetune()
    custom = TeacherFinetune.from_config({"method": "lora", "r": 4, "target_modules": ["q_proj"]})
    assert (custom.r, custom.target_modules, custom.lora.r) == (4, ("q_proj",), 4)
    with pytest.raises(ValueError, match="valid: lora"):
        TeacherFinetune.from_config("prefix")
    with pytest.raises(ValueError, match="rank"):
        TeacherFinetune.from_config({"rank": 8})


def test_pair_epochs_count_the_epochs_min_steps_adds():
    # What the plan prices: fit_sft runs whole epochs, as many as min_steps needs.
    assert TeacherFinetune(epochs=3, batch_size=8).pair_epochs(12) == 36
    assert TeacherFinetune(epochs=3, min_steps=60, batch_size=8).pair_epochs(12) == 12 * 30  # 2 steps an epoch
    assert TeacherFinetune(epochs=3, min_steps=30, batch_size=8).pair_epochs(25) == 25 * 8  # 4 steps an epoch
    assert TeacherFinetune(epochs=3, min_steps=30, batch_size=8, grad_accum=2).pair_epochs(25) == 25 * 15


def test_adapter_key_follows_teacher_seed_pairs_prompt_wording_and_settings():
    def pairs(prompt: str, texts: str) -> list:
        return [(prompt.format(t), label) for t, label in zip(texts, "xy", strict=True)]

    base = adapter_key("m", pairs("label: {}", "ab"), TeacherFinetune())
    assert base == adapter_key("m", pairs("label: {}", "ab")[::-1], TeacherFinetune())  # order of the seed set is moot
    others = [adapter_key("m2", pairs("label: {}", "ab"), TeacherFinetune()),
              adapter_key("m", pairs("label: {}", "ac"), TeacherFinetune()),  # other text, same label positions
              adapter_key("m", pairs("classify: {}", "ab"), TeacherFinetune()),  # other prompt wording
              adapter_key("m", pairs("label: {}", "ab"), TeacherFinetune(r=4)),
              adapter_key("m", pairs("label: {}", "ab"), TeacherFinetune(fast_dropout=False))]
    assert len({base, *others}) == 6


def test_lora_dropout_uses_bit_masks_and_the_served_model_keeps_its_attention(digit_task, digit_data, tmp_path):
    """With LoRA dropout on, fine-tuning draws bit masks (fast_dropout); the model the engine serves afterwards
    attends as before (the engine swaps its CPU attention in over SDPA only) and carries no LoRA layers."""
    from sgen.students import fast_dropout

    teacher = tiny_teacher(batch_size=8)
    teacher.load()
    attention = teacher.model.config._attn_implementation
    draws = []
    real_keep_mask = fast_dropout.keep_mask
    fast_dropout.keep_mask = lambda *a, **k: draws.append(a[1]) or real_keep_mask(*a, **k)
    try:
        report = finetune_teacher(teacher, digit_task, digit_data.seed,
                                  TeacherFinetune.from_config({**STRONG, "dropout": 0.1, "epochs": 20}),
                                  adapters_dir=tmp_path)
    finally:
        fast_dropout.keep_mask = real_keep_mask
    assert draws and set(draws) == {0.1}
    assert report.trained and report.train_loss_final < 0.5 * report.train_loss_first
    assert teacher.model.config._attn_implementation == attention
    assert not any("lora" in name for name, _ in teacher.model.named_modules())


def _greedy_accuracy(teacher, task, examples) -> float:
    prompts = [p for p, _ in task.sft_pairs(examples)]
    answers = teacher.generate(prompts, GenerationParams(max_new_tokens=4, temperature=0.0))
    return sum(task.score(a.text, e.label) for a, e in zip(answers, examples, strict=True)) / len(examples)


def test_finetuned_teacher_learns_the_seed_set_and_a_second_teacher_reuses_the_adapter(digit_task, digit_data):
    settings = TeacherFinetune.from_config(STRONG)
    teacher = tiny_teacher(batch_size=8)
    base_id = teacher.model_id
    before = _greedy_accuracy(teacher, digit_task, digit_data.seed)

    report = finetune_teacher(teacher, digit_task, digit_data.seed, settings)

    assert report.trained and report.train_steps == 80 and report.n_pairs == len(digit_data.seed)
    assert report.train_loss_final < 0.5 * report.train_loss_first
    assert (Path(report.adapter_dir) / "adapter_config.json").exists()
    assert teacher.model_id == f"{base_id}+lora-{report.adapter_key}"
    after = _greedy_accuracy(teacher, digit_task, digit_data.seed)
    assert after >= 0.75 > before, (before, after)

    again = tiny_teacher(batch_size=8)
    reused = finetune_teacher(again, digit_task, digit_data.seed, settings)
    assert not reused.trained and reused.train_steps == 0 and reused.adapter_key == report.adapter_key
    assert again.model_id == teacher.model_id
    prompts = [p for p, _ in digit_task.sft_pairs(digit_data.seed + digit_data.test)]
    params = GenerationParams(max_new_tokens=4, temperature=0.0)
    assert [c.text for c in again.generate(prompts, params)] == [c.text for c in teacher.generate(prompts, params)]


def test_teacher_without_weights_is_refused_before_any_query(digit_task, digit_data):
    class RemoteTeacher:
        model_id = "remote"

    with pytest.raises(ValueError, match="needs a local transformers teacher"):
        finetune_teacher(RemoteTeacher(), digit_task, digit_data.seed, TeacherFinetune())


def test_finetune_then_generate_end_to_end_and_the_second_run_reuses_the_adapter(tmp_path):
    """`python -m sgen teacher=tiny teacher.finetune=lora student=sft_tiny`: a classification task (label prompts ->
    label), the fine-tuned teacher generates, the generative student trains; the second run loads the adapter."""
    env = {"SGEN_CACHE_DIR": str(tmp_path / "cache")}
    common = ["teacher=tiny", "teacher.finetune=lora", "strategy=new_answer", "student=sft_tiny", "budget.queries=60",
              "progress=false", "task.test_size=60", "task.unlabeled_size=300", "task.seed_size=30"]
    runs = []
    for i in (1, 2):
        run_sgen(*common, f"hydra.run.dir={tmp_path / f'run{i}'}", env=env)
        runs.append(read_metrics(tmp_path / f"run{i}"))
    first, second = runs
    ft1, ft2 = first["teacher_finetune"], second["teacher_finetune"]
    assert ft1["trained"] is True and ft1["n_pairs"] == 30 and ft1["train_steps"] > 0
    assert ft2["trained"] is False and ft2["train_steps"] == 0 and ft2["adapter_key"] == ft1["adapter_key"]
    adapters = list((tmp_path / "cache" / "teacher_adapters").iterdir())
    assert [a.name for a in adapters] == [ft1["adapter_key"]]
    assert first["teacher"].endswith(f"+lora-{ft1['adapter_key']}") and second["teacher"] == first["teacher"]
    assert "finetune_teacher" in first["seconds"] and "finetune_teacher" in second["seconds"]
    # The fine-tuned teacher really answered the queries, and the generative student was scored.
    queries = read_jsonl(tmp_path / "run1" / "queries.jsonl")
    assert first["queries_used"] == 60 and len(queries) == 60
    for m in runs:
        assert 0.0 <= m["accuracy"] <= 1.0 and "macro_f1" in m and m["train_steps"] > 0


@pytest.mark.parametrize("student", ["sft_tiny", "seq2seq_tiny"])
def test_gsm8k_with_a_finetuned_teacher_and_a_generative_student(student, tiny_cfg, tmp_path, monkeypatch):
    """The generation task through the same contract: the teacher learns the seed (question, reasoning) pairs, answers
    new questions, and a causal or seq2seq student is scored by exact match of the final number."""
    from sgen.run import run

    monkeypatch.setenv("SGEN_CACHE_DIR", str(tmp_path / "cache"))  # else the other case's adapter is reused
    from tests.conftest import gsm8k_dir

    metrics = run(tiny_cfg("task=gsm8k", f"task.data_dir={gsm8k_dir()}", "task.seed_size=8",
                           "task.test_size=8", "budget.queries=8", "strategy=new_answer", f"student={student}",
                           "teacher.finetune=lora"))
    assert metrics["task"] == "gsm8k" and metrics["teacher_finetune"]["trained"] is True
    assert metrics["teacher_finetune"]["n_pairs"] == 8 and metrics["queries_used"] == 8
    assert metrics["teacher"].endswith("+lora-" + metrics["teacher_finetune"]["adapter_key"])
    assert metrics["train_steps"] >= 20 and metrics["train_loss_final"] < metrics["train_loss_first"]
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["n_train"] > 8
