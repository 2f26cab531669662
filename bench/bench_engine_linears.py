"""The continuous engine with oneDNN-packed linear layers against F.linear (MKL), in alternating rounds in one
process: this CPU's speed drifts by 15% within an hour, so separate runs cannot resolve a 20% difference, paired
rounds can.

    python -m bench.bench_engine_linears [--workload rewrites] [--prompts 64] [--rounds 6]

Each round runs the same prompts and per-query seeds through one teacher (SmolLM2-135M, the dtype a run
resolves), once with each kind of layer, in alternating order; the table gives every round and the median ratio.
Then `--alone` queries run one at a time with each kind, and their texts are compared with the same queries'
texts in the batched rounds: "one query, one answer" asks for them to be equal.
"""
from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext

from bench.common import peak_rss_mb, table, write_result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="rewrites", choices=("rewrites", "gsm8k", "labels"))
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--alone", type=int, default=24, help="queries also run one at a time, per kind of layer")
    args = ap.parse_args()
    import torch

    from bench.bench_teacher import teacher, workload
    from sgen.records import GenerationParams
    from sgen.teachers.engine.packed_linear import pack_linears

    torch.set_num_threads(2)
    prompts, params, seeds = workload(args.workload, args.prompts)
    t = teacher("auto", engine="continuous", batch_size=128, pack_weights=False)
    t.generate(prompts[:2], GenerationParams(4, params.temperature, params.top_p))  # warm-up
    packs = pack_linears(t.model, t.batch_size)
    if packs is None:
        raise SystemExit(f"no packed linears here (dtype {t.dtype}, oneDNN {torch.backends.mkldnn.is_available()})")

    def layers(name: str):
        return packs.swapped() if name == "packed" else nullcontext()

    seconds: dict[str, list[float]] = {"F.linear": [], "packed": []}
    texts: dict[str, list[str]] = {}
    for r in range(args.rounds):
        order = ("F.linear", "packed") if r % 2 == 0 else ("packed", "F.linear")
        for name in order:
            with layers(name):
                t0 = time.perf_counter()
                out = t.generate(prompts, params, seeds)
                seconds[name].append(time.perf_counter() - t0)
            texts[name] = [c.text for c in out]
    alone = {}
    for name in ("F.linear", "packed"):
        with layers(name):
            solo = [t.generate([p], params, [s])[0].text for p, s in zip(prompts[: args.alone],
                                                                          seeds[: args.alone], strict=True)]
        alone[name] = sum(a == b for a, b in zip(solo, texts[name], strict=False))
    ratios = [a / b for a, b in zip(seconds["F.linear"], seconds["packed"], strict=True)]
    rows = [[i + 1, a, b, a / b] for i, (a, b) in enumerate(zip(seconds["F.linear"], seconds["packed"],
                                                                 strict=True))]
    same = sum(a == b for a, b in zip(texts["F.linear"], texts["packed"], strict=True))
    body = table(["round", "F.linear seconds", "packed seconds", "speed-up"], rows)
    notes = (f"Median speed-up {statistics.median(ratios):.2f}x over {args.rounds} rounds of {len(prompts)} "
             f"{args.workload} queries ({t.dtype}, max_new_tokens {params.max_new_tokens}, temperature "
             f"{params.temperature}); texts equal between the two: {same}/{len(prompts)}; peak RSS "
             f"{peak_rss_mb():,.0f} MB with both weight copies. Queries run alone with the same text as in the "
             f"batch: F.linear {alone['F.linear']}/{min(args.alone, len(prompts))}, packed {alone['packed']}/"
             f"{min(args.alone, len(prompts))}.")
    command = (f"python -m bench.bench_engine_linears --workload {args.workload} --prompts {args.prompts} "
               f"--rounds {args.rounds} --alone {args.alone}")
    path = write_result(f"engine_linears_{args.workload}", f"Teacher engine: oneDNN-packed linears vs F.linear "
                        f"({args.workload}, SmolLM2-135M, CPU)", command, body, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
