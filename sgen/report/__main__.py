"""`python -m sgen.report <sweep dir> [--out DIR] [--metric accuracy] [--wandb | --no-wandb]`."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sgen.config import prepare_environment


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sgen.report", description=(
        "Gather every job of a sweep (hydra.sweep.dir) into one table (CSV, Parquet), plot score against "
        "budget/seed ratio and teacher cost, find crossovers, recommend a strategy per ratio, and write one "
        "self-contained HTML report."))
    parser.add_argument("sweep_dir", type=Path, nargs="+",
                        help="the sweep folder (Hydra's hydra.sweep.dir), or a runs.csv a report wrote; several "
                             "make one table (then --out)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <sweep_dir>/report)")
    parser.add_argument("--metric", default="accuracy",
                        help="the score to compare (a metrics.json key, dotted for nested: gain.accuracy)")
    parser.add_argument("--title", default=None, help="report title")
    parser.add_argument("--wandb", action=argparse.BooleanOptionalAction, default=None,
                        help="log a W&B summary run (default: only when the runs used logger=wandb); offline "
                             "without WANDB_API_KEY")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    prepare_environment()
    from sgen.report.build import build_report

    try:
        files = build_report(args.sweep_dir, args.out, metric=args.metric, wandb=args.wandb, title=args.title)
    except (FileNotFoundError, KeyError) as exc:  # a wrong path or metric name: say which, without a traceback
        logging.getLogger("sgen.report").error("%s", exc.args[0] if exc.args else exc)
        return 2
    logging.getLogger("sgen.report").info("wrote %s, %s, %s and %d plots", files.html, files.runs_csv,
                                          files.runs_parquet, len(files.plots))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
