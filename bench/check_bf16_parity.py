"""Accuracy parity of the default experiment's student in fp32 and bf16-mixed: `python -m sgen` (tweet_sentiment, 100
seeds, rephrase, 300 queries, MiniLM) for run seeds 0,1,2 under each precision; the mean accuracy per precision and
the bf16 - fp32 difference. Target: within 1 point.

    python -m bench.check_bf16_parity [--seeds 0,1,2] [--sweep-dir multirun/bf16_parity] [extra overrides ...]

One `python -m sgen -m` sweep per configuration. The teacher queries of a seed are paid once (the first
configuration) and come from the shared query cache after that; a rerun into the same sweep dir skips finished
jobs. `--configs` compares other student settings the same way, e.g.
`--configs student.group_by_length=false student.group_by_length=true`.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from bench.common import table, write_result

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIGS = ["student.precision=32-true", "student.precision=bf16-mixed"]
TARGET_POINTS = 1.0


def run_sweep(config: str, seeds: str, sweep_dir: Path, extra: list[str]) -> None:
    cmd = [sys.executable, "-m", "sgen", "-m", f"seed={seeds}", config, "progress=false",
           f"hydra.sweep.dir={sweep_dir}", *extra]
    subprocess.run(cmd, check=True, cwd=ROOT)


def accuracies(sweep_dir: Path) -> dict[int, tuple[float, float, str]]:
    """seed -> (accuracy, seed-only accuracy, resolved precision) of the sweep's finished jobs."""
    from sgen.report import load_sweep

    df = load_sweep(sweep_dir)
    failed = df[df["status"] != "ok"]
    if not failed.empty:
        raise SystemExit(f"{len(failed)} job(s) in {sweep_dir} did not finish: {failed['error'].tolist()}")
    return {int(r["seed"]): (float(r["accuracy"]), float(r["seed_only.accuracy"]), str(r["student_precision"]))
            for _, r in df.iterrows()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sweep-dir", type=Path, default=ROOT / "multirun" / "bf16_parity")
    ap.add_argument("--configs", nargs=2, default=DEFAULT_CONFIGS, metavar=("BASELINE", "CANDIDATE"),
                    help="one override each; the difference is candidate - baseline")
    ap.add_argument("--name", default="student_bf16_parity", help="bench/results/<name>.md")
    ap.add_argument("extra", nargs="*", help="overrides for every run (e.g. a smaller test set for a dry run)")
    args = ap.parse_args()
    results = {}
    for i, config in enumerate(args.configs):
        sweep_dir = args.sweep_dir / f"{i}-{config.rsplit('.', 1)[-1].replace('=', '-')}"
        run_sweep(config, args.seeds, sweep_dir, args.extra)
        results[config] = accuracies(sweep_dir)
    base, cand = (results[c] for c in args.configs)
    seeds = sorted(set(base) & set(cand))
    mean = {c: sum(results[c][s][0] for s in seeds) / len(seeds) for c in args.configs}
    diff = 100 * (mean[args.configs[1]] - mean[args.configs[0]])
    rows = [[s, *(f"{results[c][s][0]:.4f} ({results[c][s][1]:.4f})" for c in args.configs),
             f"{100 * (cand[s][0] - base[s][0]):+.1f}"] for s in seeds]
    rows.append(["mean", *(f"{mean[c]:.4f}" for c in args.configs), f"{diff:+.1f}"])
    body = table(["seed", *(f"{c} (seed only)" for c in args.configs), "difference (points)"], rows)
    precisions = {c: sorted({results[c][s][2] for s in seeds}) for c in args.configs}
    verdict = "met" if abs(diff) <= TARGET_POINTS else "not met"
    notes = (f"Default experiment (`python -m sgen`: tweet_sentiment, 100 seed tweets, rephrase, 300 queries, MiniLM "
             f"student), run seeds {args.seeds}; accuracy on the 1,000-tweet test set, seed-only accuracy of the "
             f"same student in brackets. Resolved student precision per configuration: {precisions}. Mean "
             f"difference {diff:+.1f} points (target within {TARGET_POINTS:.0f}: {verdict}). Extra overrides: "
             f"{' '.join(args.extra) or 'none'}.")
    command = " ".join(["python -m bench.check_bf16_parity", "--seeds", args.seeds,
                        *(["--configs", *args.configs] if args.configs != DEFAULT_CONFIGS else []), *args.extra])
    path = write_result(args.name, "Student accuracy parity: " + " vs ".join(args.configs), command, body, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
