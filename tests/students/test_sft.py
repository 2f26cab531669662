"""SFT of tiny in-process GPT-2, Llama-style and T5 models: answer-only loss, LoRA vs full fine-tuning, batched
greedy evaluation, and the student contract on a small generation task."""
from __future__ import annotations

import math

import pytest
import torch

from sgen.students.base import StudentResult
from sgen.students.generative import GenerativeStudent, generate_causal
from sgen.students.seq2seq import Seq2SeqStudent, generate_seq2seq
from sgen.students.settings import LoRASettings, TrainSettings
from sgen.students.sft import IGNORE, PadCollator, fit_sft

LLAMA = dict(arch="llama", hidden_size=32, layers=2, seed=0)
GPT2 = dict(arch="gpt2", hidden_size=32, layers=2, seed=0)
T5 = dict(hidden_size=32, layers=2, seed=0)
# A random tiny model's output layer is near zero, so LoRA adapts it as well (see conf/student/sft_tiny.yaml).
LORA_TARGETS = {"llama": ["q_proj", "v_proj", "lm_head"], "gpt2": ["c_attn", "lm_head"], "t5": ["q", "v", "lm_head"]}


def make_student(family: str, lora: bool = True, **overrides):
    cls, tiny = {"llama": (GenerativeStudent, LLAMA), "gpt2": (GenerativeStudent, GPT2),
                 "t5": (Seq2SeqStudent, T5)}[family]
    settings = dict(model=f"tiny-{family}", tiny=tiny, lr=2e-2, epochs=40, batch_size=12, max_length=64,
                    max_new_tokens=4, eval_batch_size=8, precision="32-true", accelerator="cpu", progress=False,
                    lora=dict(r=8, alpha=16, dropout=0.0, target_modules=LORA_TARGETS[family]) if lora else None)
    return cls(**{**settings, **overrides})


@torch.no_grad()
def mean_loss(model, features, pad_id) -> float:
    model.eval()
    return float(model(**PadCollator(pad_id)(features)).loss)


def test_causal_labels_cover_the_answer_only(digit_task, digit_data):
    student = make_student("llama")
    _, tokenizer = student.prepare(0)
    feats = student.features(tokenizer, digit_task.sft_pairs(digit_data.seed[:3]))
    batch = PadCollator(tokenizer.pad_token_id)(feats + [{"input_ids": [5] * 12, "labels": [IGNORE] * 12}])
    for row, (ex, feat) in enumerate(zip(digit_data.seed[:3], feats, strict=True)):
        answer = tokenizer(ex.label, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        n = len(feat["input_ids"])
        labels = batch["labels"][row].tolist()
        # Prompt positions are ignored, the answer and its eos are learned, padding (right side) is ignored.
        assert labels[: n - len(answer)] == [IGNORE] * (n - len(answer))
        assert labels[n - len(answer) : n] == answer
        assert labels[n:] == [IGNORE] * (len(labels) - n)
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (len(labels) - n)
        assert batch["input_ids"][row, n:].eq(tokenizer.pad_token_id).all()
        # The prompt is the chat template with the assistant turn opened, exactly as at inference.
        prompt = tokenizer.decode(feat["input_ids"][: n - len(answer)])
        assert prompt.replace(" ", "").endswith("<|assistant|>")


def test_seq2seq_labels_are_the_answer_plus_eos(digit_task, digit_data):
    student = make_student("t5")
    _, tokenizer = student.prepare(0)
    feats = student.features(tokenizer, digit_task.sft_pairs(digit_data.seed[:2]))
    for ex, feat in zip(digit_data.seed[:2], feats, strict=True):
        assert feat["labels"] == tokenizer(ex.label, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        assert tokenizer.decode(feat["input_ids"]).replace(" ", "") == ex.text.replace(" ", "")


def test_long_prompt_is_cut_from_the_left_and_the_answer_kept(digit_task):
    student = make_student("llama", max_length=8)
    _, tokenizer = student.prepare(0)
    pair = ([{"role": "user", "content": "1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 ="}], "9")
    [feat] = student.features(tokenizer, [pair])
    assert len(feat["input_ids"]) == 8
    assert feat["labels"][-2:] == [tokenizer.convert_tokens_to_ids("9"), tokenizer.eos_token_id]
    assert feat["labels"][:-2] == [IGNORE] * 6


@pytest.mark.parametrize("family", ["llama", "gpt2", "t5"])
def test_lora_trains_the_adapter_only_and_memorises(family, digit_task, digit_data):
    student = make_student(family)
    model, tokenizer = student.prepare(0)
    feats = student.features(tokenizer, digit_task.sft_pairs(digit_data.seed))
    base = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" not in n}
    adapter = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}
    assert adapter and all(not p.requires_grad for n, p in model.named_parameters() if "lora_" not in n)
    before = mean_loss(model, feats, tokenizer.pad_token_id)

    fit = fit_sft(model, feats, tokenizer.pad_token_id, student.train_settings, seed=0)

    after = mean_loss(model, feats, tokenizer.pad_token_id)
    params = dict(model.named_parameters())
    assert all(torch.equal(params[n], w) for n, w in base.items()), "LoRA must leave the base weights untouched"
    changed = [n for n, w in adapter.items() if not torch.equal(params[n], w)]
    assert any("lora_B" in n for n in changed) and any("lora_A" in n for n in changed)
    assert fit.steps == 40 and math.isfinite(fit.loss_first)
    assert after < 0.25 * before, (before, after)  # a set of 12 pairs is memorised
    assert fit.loss_final(1) < 0.5 * fit.loss_first


def test_full_finetuning_changes_the_base_weights(digit_task, digit_data):
    student = make_student("gpt2", lora=False, epochs=5)
    model, tokenizer = student.prepare(0)
    assert student.finetune == "full" and not any("lora_" in n for n, _ in model.named_parameters())
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    feats = student.features(tokenizer, digit_task.sft_pairs(digit_data.seed))
    loss_before = mean_loss(model, feats, tokenizer.pad_token_id)
    fit_sft(model, feats, tokenizer.pad_token_id, student.train_settings, seed=0)
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert "transformer.h.0.attn.c_attn.weight" in changed and "transformer.wte.weight" in changed
    assert len(changed) >= 0.9 * len(before)
    assert mean_loss(model, feats, tokenizer.pad_token_id) < loss_before


def test_gradient_accumulation_counts_optimizer_steps(digit_task, digit_data):
    student = make_student("llama", batch_size=3, grad_accum=2, epochs=2)
    model, tokenizer = student.prepare(0)
    fit = fit_sft(model, student.features(tokenizer, digit_task.sft_pairs(digit_data.seed)), tokenizer.pad_token_id,
                  student.train_settings, seed=0)
    assert len(fit.losses) == 2 * 4  # 12 pairs / batch 3 = 4 micro-batches per epoch
    assert fit.steps == 2 * 2  # one optimizer step per 2 micro-batches


@pytest.mark.parametrize("family", ["llama", "gpt2", "t5"])
def test_batched_greedy_equals_one_at_a_time(family, digit_task, digit_data):
    student = make_student(family)
    model, tokenizer = student.prepare(0)
    fit_sft(model, student.features(tokenizer, digit_task.sft_pairs(digit_data.seed)), tokenizer.pad_token_id,
            student.train_settings, seed=0)
    # Prompts of different lengths, so left (causal) or right (seq2seq) padding really happens within a batch.
    prompts = [p for p, _ in digit_task.sft_pairs(digit_data.seed + digit_data.test)]
    prompts += [[{"role": "user", "content": "what is 1 + 2 + 3 ="}], [{"role": "user", "content": "9 ="}]]
    gen = generate_seq2seq if family == "t5" else generate_causal
    extra = (student.max_length,) if family == "t5" else ()
    batched = gen(model, tokenizer, prompts, 8, 6, *extra)
    single = [gen(model, tokenizer, [p], 1, 6, *extra)[0] for p in prompts]
    assert batched == single
    assert sum(bool(t) for t in batched) >= len(prompts) // 2  # not all empty: the comparison means something


@pytest.mark.parametrize(("family", "epochs"), [("llama", 80), ("t5", 40)])
def test_student_contract_on_a_generation_task(family, epochs, digit_task, digit_data):
    student = make_student(family, epochs=epochs)
    result = student.train_and_evaluate(digit_data.seed, digit_data.seed, digit_data.labels, seed=0, task=digit_task)
    assert isinstance(result, StudentResult) and result.seconds_train > 0 and result.seconds_eval > 0
    assert {"accuracy", "train_loss_final", "train_steps", "student_precision"} <= set(result.metrics())
    assert result.scores["accuracy"] >= 0.75  # the training set, memorised, answered by greedy generation + task.score
    assert result.train_steps == epochs and result.train_loss_final < 0.5 * result.train_loss_first
    held_out = student.train_and_evaluate(digit_data.seed, digit_data.test, [], seed=0, task=digit_task)
    assert 0.0 <= held_out.scores["accuracy"] <= 1.0


def test_student_needs_the_task(digit_data):
    with pytest.raises(ValueError, match="needs the task"):
        make_student("llama").train_and_evaluate(digit_data.seed, digit_data.test, [], seed=0)


def test_invalid_finetune_method_names_the_valid_ones():
    with pytest.raises(ValueError, match="lora, full"):
        make_student("llama", finetune="qlora")


def test_fingerprint_separates_lora_and_full():
    assert make_student("llama").fingerprint() != make_student("llama", lora=False).fingerprint()
    assert make_student("llama").fingerprint() == make_student("llama", progress=True).fingerprint()


def test_train_settings_default_to_the_paper_schedule():
    settings = TrainSettings()
    assert (settings.epochs, settings.warmup_ratio) == (3, 0.03)


SLURM_ALLOCATION = {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "1", "SLURM_JOB_NAME": "sgen", "SLURM_NODELIST": "n1",
                    "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0"}


def test_every_lightning_loop_leaves_slurm_signals_alone(monkeypatch, digit_task, digit_data):
    """Inside a SLURM allocation Lightning would pick its SLURM environment and handle the requeue signal itself;
    the students and the teacher fine-tuning (fit_sft) share one Trainer set-up that keeps it out."""
    import pytorch_lightning as pl

    from sgen.records import Example
    from sgen.students.trainer import ClassifierStudent

    for name, value in SLURM_ALLOCATION.items():
        monkeypatch.setenv(name, value)
    seen = []

    class Record(pl.Callback):
        def on_fit_start(self, trainer, pl_module):
            seen.append(type(trainer._accelerator_connector.cluster_environment).__name__)

    make_student("llama", epochs=1).train_and_evaluate(digit_data.seed, digit_data.test, [], seed=0, task=digit_task,
                                                       callbacks=[Record()])
    texts = [Example(f"e{i}", f"{'good' if i % 2 else 'bad'} day {i}", "pos" if i % 2 else "neg") for i in range(16)]
    ClassifierStudent("tiny-bert", tiny={"hidden_size": 32, "layers": 1}, epochs=1, batch_size=8,
                      precision="32-true", accelerator="cpu", progress=False).train_and_evaluate(
        texts, texts[:4], ["neg", "pos"], seed=0, callbacks=[Record()])
    assert seen == ["LightningEnvironment", "LightningEnvironment"]


@pytest.mark.parametrize("family", ["llama", "gpt2", "t5"])
def test_fast_dropout_swaps_lora_and_model_dropout_and_leaves_the_attention(family, digit_task, digit_data):
    from sgen.students.fast_dropout import FastDropout

    lora = dict(r=8, alpha=16, dropout=0.1, target_modules=LORA_TARGETS[family])
    student = make_student(family, fast_dropout=True, epochs=20)
    student.lora = LoRASettings.from_config(lora)  # make_student's LoRA has no dropout
    model, tokenizer = student.prepare(0)
    assert not any(type(m) is torch.nn.Dropout for m in model.modules())
    assert any(isinstance(m, FastDropout) and "lora_dropout" in n for n, m in model.named_modules())
    assert model.config._attn_implementation == make_student(family).prepare(0)[0].config._attn_implementation
    feats = student.features(tokenizer, digit_task.sft_pairs(digit_data.seed))
    before = mean_loss(model, feats, tokenizer.pad_token_id)
    fit_sft(model, feats, tokenizer.pad_token_id, student.train_settings, seed=0)
    assert mean_loss(model, feats, tokenizer.pad_token_id) < 0.5 * before
    assert student.fingerprint() != make_student(family, fast_dropout=False).fingerprint()
