"""A fault-injecting OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

A real HTTP server (http.server, one thread per connection, HTTP/1.1 keep-alive). Each chat request gets one
outcome: a scripted one for the first requests, then a random fault at the configured rates, else a valid
completion with usage. Valid completions are deterministic: label prompts are answered by keywords, rewrite and
new-input prompts by templates, so the client's parsing is exercised. The server is bounded: it answers at most
`max_requests` chat requests (then 503) and shuts itself down after `max_seconds`.

Run standalone (benchmarks): `python -m tests.teachers.fault_server --latency 0.01` prints `PORT <n>`;
GET /stats returns the counters as JSON.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

FAULTS = ("429", "500", "503", "slow", "truncated", "malformed", "bad_schema")
POSITIVE = {"love", "great", "good", "happy", "best", "awesome", "thanks", "nice", "fun", "excited", "glad", "cool"}
NEGATIVE = {"hate", "bad", "sad", "worst", "awful", "sorry", "miss", "sick", "tired", "ugh", "hurts", "poor"}


@dataclass
class ServerStats:
    outcomes: Counter = field(default_factory=Counter)
    ok_prompt_tokens: int = 0
    ok_completion_tokens: int = 0
    ok_handler_seconds: float = 0.0
    arrivals: list[float] = field(default_factory=list)  # monotonic time of every chat request
    bodies: list[dict] = field(default_factory=list)  # request bodies of successful responses
    auth_headers: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        return self.outcomes["ok"]

    def as_json(self) -> dict:
        return {"outcomes": dict(self.outcomes), "ok": self.ok, "ok_prompt_tokens": self.ok_prompt_tokens,
                "ok_completion_tokens": self.ok_completion_tokens, "ok_handler_seconds": self.ok_handler_seconds,
                "requests": len(self.arrivals)}


class FaultServer:
    """Start with `with FaultServer(...) as server:`; `server.base_url` ends in /v1."""

    def __init__(self, rates: dict[str, float] | None = None, script: list[str] | None = None,
                 latency: float = 0.0, slow_seconds: float = 1.0, retry_after: float | None = 0.05,
                 api_key: str | None = None, max_requests: int = 10_000, max_seconds: float = 120.0,
                 seed: int = 0, port: int = 0, fail_content: str | None = None) -> None:
        # Requests whose last message has exactly this content always get a 500 (one query that never succeeds).
        self.fail_content = fail_content
        self.rates = {k: float(v) for k, v in (rates or {}).items()}
        unknown = set(self.rates) - set(FAULTS) | set(script or []) - set(FAULTS) - {"ok"}
        if unknown:
            raise ValueError(f"unknown outcomes {sorted(unknown)}; valid: ok, {', '.join(FAULTS)}")
        self.script = list(script or [])
        self.latency, self.slow_seconds, self.retry_after = latency, slow_seconds, retry_after
        self.api_key, self.max_requests, self.max_seconds = api_key, max_requests, max_seconds
        self.stats = ServerStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), _handler_class(self))
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    def start(self) -> FaultServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fault-server", daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.max_seconds, self.stop)  # bounded even if a test forgets to stop it
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._thread is not None and self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def next_outcome(self) -> str:
        with self._lock:
            n = len(self.stats.arrivals)
            self.stats.arrivals.append(time.monotonic())
            if n >= self.max_requests:
                return "limit"
            if n < len(self.script):
                return self.script[n]
            draw = self._rng.random()
            for fault, rate in self.rates.items():
                if draw < rate:
                    return fault
                draw -= rate
            return "ok"

    def book(self, outcome: str, body: dict | None = None, usage: dict | None = None, seconds: float = 0.0) -> None:
        with self._lock:
            self.stats.outcomes[outcome] += 1
            if outcome == "ok":
                self.stats.ok_prompt_tokens += usage["prompt_tokens"]
                self.stats.ok_completion_tokens += usage["completion_tokens"]
                self.stats.ok_handler_seconds += seconds
                self.stats.bodies.append(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 64 clients connecting at once must not overflow the listen backlog

    def handle_error(self, request, client_address) -> None:
        """A client that hung up (it timed out, or gave up on a cut connection) is expected here, not an error."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _handler_class(server: FaultServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; with Nagle on, the body waits for the client's delayed ACK
            # (40 ms on Linux) and the benchmark would measure that instead of the backend. Real servers set it too.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, fmt, *args) -> None:  # quiet: tests read the stats, not a log per request
            pass

        def do_GET(self) -> None:
            if self.path.endswith("/models") and not self._authorized():
                return
            if self.path.endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": "fault-model", "object": "model"}]})
            elif self.path.endswith("/stats"):
                self._json(200, server.stats.as_json())
            else:
                self._json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            t0 = time.perf_counter()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self.path.endswith("/chat/completions"):
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            if self._authorized():
                body = json.loads(raw)
                doomed = server.fail_content is not None and body["messages"][-1]["content"] == server.fail_content
                self._answer("500" if doomed else server.next_outcome(), body, t0)

        def _authorized(self) -> bool:
            sent_key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            server.stats.auth_headers[bool(sent_key)] += 1
            if server.api_key is not None and sent_key != server.api_key:
                # Real APIs echo the key they got: the client must redact it from its error.
                self._json(401, {"error": {"message": f"Incorrect API key provided: {sent_key}"}})
                return False
            return True

        def _answer(self, outcome: str, body: dict, t0: float) -> None:
            if outcome == "limit":
                self._json(503, {"error": {"message": "fault server request limit reached"}})
                return
            if outcome in ("429", "500", "503"):
                headers = {}
                if outcome == "429" and server.retry_after is not None:
                    headers = {"Retry-After": str(max(1, round(server.retry_after))),
                               "retry-after-ms": str(int(server.retry_after * 1000))}
                self._json(int(outcome), {"error": {"message": f"injected {outcome}"}}, headers)
                server.book(outcome)
                return
            if outcome == "slow":
                time.sleep(server.slow_seconds)  # past the client's timeout: it has given up by now
            elif server.latency:
                time.sleep(server.latency)
            payload = completion_payload(body)
            data = json.dumps(payload).encode()
            if outcome == "truncated":  # the connection dies mid-body
                self._raw(200, data, cut=len(data) // 2)
            elif outcome == "malformed":  # a complete HTTP response whose JSON is cut short
                self._raw(200, data[: len(data) // 2])
            elif outcome == "bad_schema":
                self._json(200, {"id": payload["id"], "object": "chat.completion", "choices": []})
            else:
                self._json(200, payload)
            server.book(outcome, body, payload["usage"], time.perf_counter() - t0)

        def _json(self, status: int, obj: dict, headers: dict | None = None) -> None:
            self._raw(status, json.dumps(obj).encode(), headers=headers)

        def _raw(self, status: int, data: bytes, cut: int | None = None, headers: dict | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data if cut is None else data[:cut])
                self.wfile.flush()
                if cut is not None:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                self.close_connection = True  # the client went away (it timed out): nothing to deliver

    return Handler


def completion_payload(body: dict) -> dict:
    """A deterministic chat completion for the request, with usage counted in whitespace words."""
    messages = body.get("messages") or []
    text = reply_for(messages)
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
             "total_tokens": prompt_tokens + len(text.split())}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    return {"id": f"chatcmpl-{digest}", "object": "chat.completion", "created": 0, "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": usage}


def reply_for(messages: list[dict]) -> str:
    """Label prompts get a label (by keywords), rewrite prompts a rewrite, new-input prompts a new input.

    A label prompt lists its labels ("one of: a, b, c." or "Possible labels: a, b, c.") in some message; the item
    to label is the last user message, or its last "Kind: text" line when everything is in one message.
    """
    contents = [str(m.get("content", "")) for m in messages]
    last = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
    options = next((m.group(1) for c in contents
                    if (m := re.search(r"(?:one of|Possible [^:\n]*):\s*(.+?)\.(?:\n|$)", c))), None)
    if options is not None:
        lines = re.findall(r"^\w+: (.*)$", last, flags=re.MULTILINE)
        item = lines[-1] if "Answer with the" in last and lines else last
        return keyword_label(item, [x.strip() for x in options.split(",")])
    if last.startswith("Rewrite this"):
        return "In other words, " + last.rsplit("\n\n", 1)[-1].strip()
    wanted = re.search(r"whose \w+ is (\S+?)\.", last)
    if wanted:
        return f"A new example that is clearly {wanted.group(1)}, number {_digest(last)[:6]}"
    return "OK"


def keyword_label(text: str, options: list[str]) -> str:
    words = set(re.findall(r"[a-z']+", text.lower()))
    by_name = {o.lower(): o for o in options}
    score = len(words & POSITIVE) - len(words & NEGATIVE)
    if {"positive", "negative"} <= set(by_name):
        if score > 0:
            return by_name["positive"]
        if score < 0:
            return by_name["negative"]
        return by_name.get("neutral", by_name["positive"])
    return options[int(_digest(text), 16) % len(options)]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each valid response waits")
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--rates", default="{}", help='JSON, e.g. {"429": 0.1, "500": 0.05}')
    args = parser.parse_args()
    server = FaultServer(rates=json.loads(args.rates), latency=args.latency, max_requests=args.max_requests,
                         max_seconds=args.max_seconds, port=args.port)
    server.start()
    print(f"PORT {server.port}", flush=True)  # noqa: T201 - the parent process reads the port from stdout
    server._thread.join()


if __name__ == "__main__":
    main()
