"""The openai teacher backend against a local OpenAI-compatible server: requests/s and the backend's own overhead.

The server is the test suite's fault server with faults off and a fixed per-request latency, in its own process
(so client and server do not share a GIL). For each concurrency the backend sends N label queries; the backend's
overhead per query is its measured latency (request sent -> completion parsed) minus the server's own handling
time for that request, and its CPU per query is this process's CPU time over N.

    python -m bench.bench_openai [--latency 0.02] [--concurrency 1,4,16,64] [--queries-per-slot 12] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.common import table, write_result
from sgen.records import GenerationParams
from sgen.teachers.openai import OpenAITeacher

ROOT = Path(__file__).resolve().parents[1]
PARAMS = GenerationParams(max_new_tokens=8, temperature=0.0, top_p=1.0)
CHUNK = 64  # MeteredTeacher's default query_batch_size: a run sends chunks of 64 and waits for each


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.teachers.fault_server", "--latency", str(latency),
                             "--max-seconds", "900"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != "PORT":
        proc.kill()
        raise RuntimeError(f"the fault server did not start (said {line!r})")
    return proc, f"http://127.0.0.1:{line[1]}/v1"


def server_stats(base_url: str) -> dict:
    with urllib.request.urlopen(f"{base_url}/stats", timeout=10) as resp:
        return json.loads(resp.read())


def prompts(n: int, offset: int = 0) -> list[list[dict[str, str]]]:
    system = "You classify the sentiment of tweets. Reply with exactly one of: negative, neutral, positive."
    return [[{"role": "system", "content": system},
             {"role": "user", "content": f"tweet {offset + i}: what a great day, thanks everyone"}] for i in range(n)]


def measure(base_url: str, concurrency: int, n: int, chunk: int | None) -> dict[str, float]:
    teacher = OpenAITeacher(model="bench", base_url=base_url, api_key_env=None, concurrency=concurrency)
    teacher.load()
    teacher.generate(prompts(concurrency, offset=10**6), PARAMS)  # warm-up: open the connections
    teacher.stats.latency_seconds, teacher.stats.responses = 0.0, 0
    before = server_stats(base_url)
    asked = prompts(n)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for start in range(0, n, chunk or n):
        teacher.generate(asked[start : start + (chunk or n)], PARAMS)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    after = server_stats(base_url)
    teacher.close()
    served = after["ok"] - before["ok"]
    server_seconds = (after["ok_handler_seconds"] - before["ok_handler_seconds"]) / served
    client_seconds = teacher.stats.latency_seconds / teacher.stats.responses
    return {"n": n, "wall": wall, "rps": n / wall, "client_ms": 1000 * client_seconds,
            "server_ms": 1000 * server_seconds, "overhead_ms": 1000 * (client_seconds - server_seconds),
            "cpu_ms": 1000 * cpu / n}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.02, help="seconds the server waits per request")
    ap.add_argument("--concurrency", default="1,4,16,64")
    ap.add_argument("--queries-per-slot", type=int, default=12, help="queries sent = concurrency x this (>= 64)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per setting; the table shows the median run")
    args = ap.parse_args(argv if argv is not None else [])
    logging.getLogger("sgen").setLevel(logging.WARNING)
    server, base_url = start_server(args.latency)
    rows = []
    try:
        for c in (int(x) for x in args.concurrency.split(",")):
            n = max(64, c * args.queries_per_slot)
            for label, chunk in (("one call", None), (f"chunks of {CHUNK}", CHUNK)):
                runs = sorted((measure(base_url, c, n, chunk) for _ in range(args.repeats)), key=lambda r: r["rps"])
                r = runs[len(runs) // 2]  # the median run: the 2 cores are shared, single runs are noisy
                ideal = min(c, chunk or c) / args.latency
                rows.append([c, label, r["n"], r["rps"], ideal, r["client_ms"], r["server_ms"], r["overhead_ms"],
                             r["cpu_ms"]])
    finally:
        server.terminate()
        server.wait(timeout=10)
    headers = ["concurrency", "generate calls", "queries", "req/s", "ideal req/s", "client ms/query",
               "server ms/query", "overhead ms/query", "client CPU ms/query"]
    notes = (f"Server: `tests/teachers/fault_server.py`, faults off, {1000 * args.latency:.0f} ms fixed latency per "
             "request, one thread per connection, in its own process on the same 2 cores. `ideal` is concurrency / "
             "latency. `overhead` = the backend's latency (request sent -> completion parsed) minus the server's "
             "handling time of that request: both HTTP stacks, the event loop and JSON. `client CPU` is this "
             "process's CPU time per query (the backend's own cost). `chunks of 64` is how a run calls the backend "
             "(query_batch_size=64): each chunk waits for its slowest query. Median of "
             f"{args.repeats} runs per row. At high concurrency the thread-per-connection Python server saturates "
             "the shared cores, and its queueing (before its handler starts the clock) shows up as `overhead`; "
             "the client CPU column is the backend's own cost.")
    cmd = "python -m bench.bench_openai " + " ".join(argv or [])
    path = write_result("openai", "openai teacher backend against a local OpenAI-compatible server", cmd.strip(),
                        table(headers, rows), notes)
    logging.getLogger(__name__).warning("wrote %s", path)


if __name__ == "__main__":
    main(sys.argv[1:])
