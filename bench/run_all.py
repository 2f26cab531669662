"""Run every benchmark in turn and collect bench/results/*.md into BENCHMARKS.md.

    python -m bench.run_all            # all
    python -m bench.run_all --collect  # only rebuild BENCHMARKS.md from existing results
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
from pathlib import Path

from bench.common import RESULTS

ROOT = Path(__file__).resolve().parents[1]
HEADER = """# Benchmarks

Numbers from `python -m bench.run_all` (each section names its own command, machine and date). Speed and memory
targets live here, never as timed assertions in tests. Sections measured while other work loaded the same 2 cores
say so in their load average.
"""


def collect() -> Path:
    sections = [p.read_text().strip() for p in sorted(RESULTS.glob("*.md"))]
    out = ROOT / "BENCHMARKS.md"
    out.write_text(HEADER + "\n" + "\n\n".join(sections) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--collect", action="store_true")
    args = ap.parse_args()
    if not args.collect:
        for mod in pkgutil.iter_modules([str(Path(__file__).parent)]):
            if mod.name.startswith("bench_"):
                logging.getLogger(__name__).warning("running %s", mod.name)
                module = importlib.import_module(f"bench.{mod.name}")
                module.main()
    collect()


if __name__ == "__main__":
    main()
