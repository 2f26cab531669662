"""Shared bits for benchmarks: machine description and markdown tables."""
from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import torch

    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB RAM, torch {torch.__version__}, Python {platform.python_version()}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(headers: list[str], rows: list[list]) -> str:
    fmt = lambda v: f"{v:,.2f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, title: str, command: str, body: str, notes: str = "") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    text = (f"## {title}\n\n- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n- machine: {machine()}\n"
            f"- load average at the end: {load:.2f}\n- command: `{command}`\n\n{body}\n" + (f"\n{notes}\n" if notes else ""))
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path


def git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"
