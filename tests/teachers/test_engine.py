"""The continuous-batching engine on tiny fp32 models: the same greedy text as `model.generate` row by row, one
sampling stream per query, exact token counts, shared prefixes computed once, and the column bookkeeping
(compaction, growth, room for longer newcomers) exercised by staggered prompts."""
from __future__ import annotations

import pytest
import torch

from sgen.records import GenerationParams
from sgen.teachers.engine import SamplingSettings, next_tokens
from sgen.teachers.engine.prefixes import plan_prefixes
from sgen.teachers.hf import tiny_teacher

SYSTEM = "classify the text into one of the labels answer with the label only " * 3
TEXTS = ["classify the text", "the service was great and i love it, what a wonderful surprise thank you", "my card",
         "how do i change my pin and the meeting is at noon on monday", "negative neutral positive"]
# A long shared system prompt, a branch on the label, then the text: the shape of sgen's rewrite prompts.
PROMPTS = [[{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"rewrite this text with the same meaning {label} : {text}"}]
           for text in TEXTS for label in ("negative", "positive")]
# Lengths from 2 to ~60 tokens, long last: newcomers outgrow the running rows and columns fill up.
STAGGERED = [[{"role": "user", "content": " ".join(TEXTS[: 1 + i % 5] * (1 + i // 5))}] for i in range(14)]


def reference(teacher, prompts, max_new_tokens: int) -> list[tuple[str, int]]:
    """What `model.generate` makes of each prompt alone (no padding, no batch): text and completion tokens."""
    tok, model = teacher.tokenizer, teacher.model
    out = []
    for prompt in prompts:
        enc = tok(teacher.render(prompt), add_special_tokens=False, return_tensors="pt")
        row = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id)[0, enc["input_ids"].shape[1]:].tolist()
        row = row[: row.index(tok.eos_token_id) + 1] if tok.eos_token_id in row else row
        out.append((tok.decode(row, skip_special_tokens=True).strip(), len(row)))
    return out


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_greedy_equals_generate_row_by_row(arch, batch_size):
    teacher = tiny_teacher(arch=arch, batch_size=batch_size)
    prompts = PROMPTS * 2  # repeats: identical prompts share all but their last token
    out = teacher.generate(prompts, GenerationParams(max_new_tokens=12))
    assert teacher.engine_name == "continuous"
    assert [(c.text, c.completion_tokens) for c in out] == reference(teacher, prompts, 12)
    lengths = [len(teacher.tokenizer(teacher.render(p), add_special_tokens=False)["input_ids"]) for p in prompts]
    assert [c.prompt_tokens for c in out] == lengths  # the whole prompt is counted, shared prefix included
    stats, shared = teacher._batcher.stats, teacher._batcher.prefixes.stats
    # The system prompt was computed once, not once per prompt.
    assert shared["computed_tokens"] > 0 and stats["prefill_tokens"] + shared["computed_tokens"] < sum(lengths) / 2


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_staggered_lengths_exercise_compaction_growth_and_room_on_the_left(arch):
    teacher = tiny_teacher(arch=arch, batch_size=2)
    out = teacher.generate(STAGGERED, GenerationParams(max_new_tokens=40))
    assert [(c.text, c.completion_tokens) for c in out] == reference(teacher, STAGGERED, 40)
    assert teacher._batcher.stats["admissions"] >= 7


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_newcomers_of_mixed_lengths_prefill_in_several_forwards_with_the_same_output(arch):
    teacher = tiny_teacher(arch=arch, batch_size=64)
    teacher.generate(STAGGERED[:1], GenerationParams(max_new_tokens=1))  # builds the engine
    teacher._batcher.prefill_min_tokens = 1  # split wherever padding would exceed 10% of the real tokens
    teacher._batcher.prefill_padding = 0.1
    out = teacher.generate(STAGGERED, GenerationParams(max_new_tokens=20))
    assert [(c.text, c.completion_tokens) for c in out] == reference(teacher, STAGGERED, 20)
    stats = teacher._batcher.stats
    assert stats["admissions"] == 2  # the warm-up's one, then every prompt in one go (14 rows free)
    assert stats["prefill_forwards"] >= 8  # unsplit: 4
    assert stats["prefill_padded_tokens"] <= 1.1 * stats["prefill_tokens"] + 20  # unsplit: 656 of 320


def test_eos_and_max_new_tokens_end_each_row():
    teacher = tiny_teacher(labels=("<|end|>",))
    out = teacher.generate(PROMPTS, GenerationParams(max_new_tokens=3, temperature=1.0), seeds=range(len(PROMPTS)))
    assert all(1 <= c.completion_tokens <= 3 for c in out)
    ended = [c for c in out if c.completion_tokens < 3]
    # A row that stopped early stopped at eos, which is counted (as `generate` counts it) and not shown.
    assert all("<|end|>" not in c.text for c in out) and len(ended) < len(out)


SAMPLED = GenerationParams(max_new_tokens=10, temperature=1.0, top_p=0.9)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_each_query_samples_from_its_own_stream(arch):
    prompts = PROMPTS * 2
    seeds = list(range(100, 100 + len(prompts)))
    texts = {bs: [c.text for c in tiny_teacher(arch=arch, batch_size=bs).generate(prompts, SAMPLED, seeds)]
             for bs in (1, 7, 64)}
    assert texts[1] == texts[7] == texts[64]
    # The same query in another call, alone or among others in another order, draws the same text.
    teacher = tiny_teacher(arch=arch, batch_size=7)
    assert [teacher.generate([p], SAMPLED, [s])[0].text for p, s in zip(prompts[:4], seeds[:4])] == texts[7][:4]
    reordered = teacher.generate(prompts[::-1], SAMPLED, seeds[::-1])
    assert [c.text for c in reordered][::-1] == texts[7]
    # Repeated prompts with different seeds draw different samples; another seed, another text.
    assert len(set(texts[7])) > len(PROMPTS)
    assert teacher.generate(prompts, SAMPLED, [s + 1 for s in seeds])[0].text != texts[7][0] or \
        teacher.generate(prompts, SAMPLED, [s + 1 for s in seeds])[1].text != texts[7][1]


def test_static_engine_is_kept_and_chosen_when_the_model_needs_a_processor_the_engine_lacks():
    static = tiny_teacher(batch_size=4, engine="static")
    assert static.engine_name == "static"
    assert [c.text for c in static.generate(PROMPTS, GenerationParams(max_new_tokens=6))] == \
        [t for t, _ in reference(static, PROMPTS, 6)]
    penalised = tiny_teacher()
    penalised.model.generation_config.repetition_penalty = 1.3
    penalised._start_engine()
    assert penalised.engine_name == "static"
    strict = tiny_teacher(engine="continuous")
    strict.model.generation_config.repetition_penalty = 1.3
    with pytest.raises(ValueError, match="engine=continuous cannot run .*repetition_penalty=1.3"):
        strict._start_engine()


def test_sampling_keeps_transformers_top_k_then_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]] * 4000))
    generators = [torch.Generator().manual_seed(i) for i in range(len(logits))]
    nucleus = next_tokens(logits, SamplingSettings(temperature=1.0, top_p=0.7, top_k=50), generators)
    assert set(nucleus.tolist()) == {0, 1}  # 0.5 < 0.7 so the second token joins; then the mass is reached
    assert abs((nucleus == 0).float().mean().item() - 0.5 / 0.8) < 0.03
    top2 = next_tokens(logits, SamplingSettings(temperature=1.0, top_p=1.0, top_k=2), generators)
    assert set(top2.tolist()) == {0, 1}
    assert next_tokens(logits[:2], SamplingSettings(temperature=0.0), [None, None]).tolist() == [0, 0]


def test_prefix_plan_shares_branching_points_and_keeps_the_last_token_per_row():
    system = list(range(100, 140))
    prompts = [system + [1, 2, 3], system + [1, 2, 4], system + [5], [7, 8, 9], system + [1, 2, 3]]
    plan = plan_prefixes(prompts)
    # The shared system prompt; the [1, 2] branch and the repeated prompt add too few tokens to pay a forward.
    assert plan == [40, 40, 40, 0, 40]
    # A question asked k times (answer augmentation) shares all but its last token.
    question = list(range(1, 30))
    assert plan_prefixes([system + question] * 3 + [system + [9]]) == [68, 68, 68, 40]
    assert plan_prefixes([[1, 2, 3]] * 3, min_tokens=1, min_saving=1) == [2, 2, 2]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("float_mask", [False, True])
def test_decode_attention_equals_transformers_packed_sdpa(dtype, float_mask):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from sgen.teachers.engine.attention import cpu_gqa_sdpa

    g = torch.Generator().manual_seed(0)
    rows, kv_heads, groups, cols, dim = 5, 3, 3, 17, 8
    module = torch.nn.Module()
    module.num_key_value_groups = groups
    query = torch.randn(rows, kv_heads * groups, 1, dim, generator=g).to(dtype)
    key, value = (torch.randn(rows, kv_heads, cols, dim, generator=g).to(dtype) for _ in range(2))
    allowed = torch.rand(rows, 1, 1, cols, generator=g) > 0.4
    allowed[..., -1] = True  # a row always sees its newest token
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min) if float_mask \
        else allowed
    ours, _ = cpu_gqa_sdpa(module, query, key, value, mask, scaling=0.3)
    theirs, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=0.3)
    assert ours.shape == theirs.shape == (rows, 1, kv_heads * groups, dim)
    tolerance = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(ours, theirs, atol=tolerance, rtol=tolerance)


def test_engine_prefills_over_grouped_heads_on_a_cpu_and_gives_the_model_back_unchanged(monkeypatch):
    from sgen.teachers.engine.attention import engine_attention

    teacher = tiny_teacher(arch="llama")  # 4 query heads over 2 key/value heads
    real = torch.nn.functional.scaled_dot_product_attention
    calls = []

    def spy(*args, **kwargs):
        calls.append((args[0].shape[1], args[1].shape[1], kwargs.get("enable_gqa", False)))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    teacher.generate(PROMPTS[:3], GenerationParams(max_new_tokens=4))
    # Prefills attend over the 2 key/value heads as they are; decode steps run as matmuls (no SDPA call).
    assert calls and all(c == (4, 2, True) for c in calls)
    assert teacher.model.config._attn_implementation == "sdpa"
    with pytest.raises(RuntimeError), engine_attention(teacher.model):
        raise RuntimeError("a forward failed")
    assert teacher.model.config._attn_implementation == "sdpa"


def test_a_calls_key_value_buffers_are_freed_when_it_returns(monkeypatch):
    """Without the cyclic collector: a layer that pointed back at its cache kept each call's buffers (up to
    kv_cache_mb) alive after the call."""
    import gc
    import weakref

    from sgen.teachers.engine import slot_cache

    made = []
    original = slot_cache.SlotCache.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(slot_cache.SlotCache, "__init__", spy)
    teacher = tiny_teacher()
    gc.disable()
    try:
        teacher.generate(PROMPTS[:3], GenerationParams(max_new_tokens=4))
        assert made and all(ref() is None for ref in made)
    finally:
        gc.enable()
