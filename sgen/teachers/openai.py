"""A teacher behind any OpenAI-compatible chat-completions server (vLLM, TGI, llama.cpp server, hosted APIs).

Requests run concurrently (asyncio + httpx, at most `concurrency` in flight), under optional requests- and
tokens-per-minute limits, and are retried with exponential backoff and full jitter on 429, 5xx, timeouts, broken
connections and malformed or truncated bodies. `generate` returns every completion of its batch or raises, so the
ledger (which books after `generate` returns) never counts a query that did not succeed.

The API key is read from the environment variable named by `api_key_env` when the teacher loads; only that name
is ever part of the config. The key lives in the HTTP client's headers and is redacted from every error message.
"""
from __future__ import annotations

import asyncio
import logging
import os
import queue
import random
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sgen.records import Completion, GenerationParams, Messages
from sgen.teachers.background_loop import BackgroundLoop
from sgen.teachers.base import ResultHook, Teacher, checked_price, default_seeds, with_partial
from sgen.teachers.http_retry import (RetryPolicy, TeacherRequestError, TransientError, is_retryable_status,
                                      parse_retry_after, redact)
from sgen.teachers.pricing import list_price
from sgen.teachers.rate_limit import RateLimits

log = logging.getLogger(__name__)

MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")  # newer OpenAI models accept only the second


@dataclass
class ServedStats:
    """What the backend saw on the wire: successful responses, retries by reason, tokens and latency."""

    responses: int = 0
    retries: int = 0
    failures: Counter = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_seconds: float = 0.0  # request sent -> response parsed, successful attempts only


class OpenAITeacher(Teacher):
    """Chat completions over HTTP. Prices are USD per million tokens; they turn the ledger's tokens into a cost."""

    def __init__(
        self,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        api_key_env: str | None = "OPENAI_API_KEY",
        concurrency: int = 16,
        timeout: float = 60.0,
        max_retries: int = 8,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_wait: float = 120.0,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        price_per_million_prompt_tokens: float | None = None,
        price_per_million_completion_tokens: float | None = None,
        max_tokens_field: str = "max_tokens",
        send_seed: bool = True,
        check_connection: bool = True,
        extra_body: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        _validate(base_url, concurrency, timeout, max_tokens_field, price_per_million_prompt_tokens,
                  price_per_million_completion_tokens, requests_per_minute, tokens_per_minute)
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.retry = RetryPolicy(int(max_retries), float(backoff_base), float(backoff_max), float(max_wait))
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        # Configured prices win; else the shipped list price of this model on its provider's API; else unknown.
        prices = (price_per_million_prompt_tokens, price_per_million_completion_tokens)
        self.price = checked_price(*(list_price(self.base_url, model) or (None, None) if prices == (None, None)
                                     else prices))
        self.max_tokens_field = max_tokens_field
        self.send_seed = send_seed
        self.check_connection = check_connection
        self.extra_body = dict(extra_body or {})
        # The served weights are named by the model; a user who serves other weights under the same name sets `name`.
        self.model_id = name or model
        self.stats = ServedStats()
        self._key: str | None = None
        self._runner: BackgroundLoop | None = None
        self._client = None
        self._semaphore: asyncio.Semaphore | None = None
        self._limits: RateLimits | None = None
        self._rng = random.Random()  # jitter only: timing, never results
        self._warned_usage = False

    def __repr__(self) -> str:  # never the key, whatever a debugger or a log line prints
        return f"OpenAITeacher(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def load(self) -> None:
        """Read the key, open the connection pool and (optionally) check the server answers, before any query."""
        if self._runner is not None and self._runner.usable:
            return
        self._key = _read_key(self.api_key_env)
        if logging.getLogger("httpx").level == logging.NOTSET:
            logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request drowns the run's log
        self._runner = BackgroundLoop(name=f"sgen-openai-{self.model_id}")
        self._runner.run(self._open())
        weakref.finalize(self, self._runner.close, _close_client(self._client))
        if self.check_connection:
            self._runner.run(self._check_server())
        log.info("teacher %s at %s: concurrency %d, timeout %gs, %d retries%s", self.model_id, self.base_url,
                 self.concurrency, self.timeout, self.retry.max_retries, _limits_note(self))
        if self.price is None:
            log.info("no known price for %s at %s: cost_usd stays null (set teacher.backend.price_per_million_"
                     "prompt_tokens and _completion_tokens to price it)", self.model, self.base_url)

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close(_close_client(self._client))
            self._runner = None

    async def _open(self) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        self._client = httpx.AsyncClient(headers=headers, timeout=self.timeout, limits=limits)
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._limits = RateLimits(self.requests_per_minute, self.tokens_per_minute)

    async def _check_server(self) -> None:
        """GET /models costs nothing and catches a wrong URL or key before the budget is touched."""
        import httpx

        url = f"{self.base_url}/models"
        try:
            resp = await self._client.get(url)
        except httpx.RequestError as exc:
            raise ConnectionError(self._redact(f"cannot reach the teacher server at {url}: {type(exc).__name__}: "
                                               f"{exc}; check teacher.backend.base_url")) from None
        if resp.status_code in (401, 403):
            raise PermissionError(self._redact(
                f"{url} refused the API key from ${self.api_key_env} ({resp.status_code}: {resp.text[:200]})"))
        if resp.status_code != 200:
            log.warning("%s answered %d; going on (some servers do not list models)", url, resp.status_code)

    # -- generation ------------------------------------------------------------------------------------------------
    def generate(self, prompts: Sequence[Messages], params: GenerationParams,
                 seeds: Sequence[int] | None = None, on_result: ResultHook | None = None) -> list[Completion]:
        """Each answer is reported through `on_result` (on the calling thread) the moment its request completes, so
        the query cache commits it then, and its connection slot stays taken until `on_result` returns: a kill
        mid-call loses at most `concurrency` answers (requests in flight, or answered and not yet committed; before,
        answers waiting for a busy calling thread freed their slots and more piled up). Answers that arrived before
        a failure also ride on the error (`with_partial`)."""
        if not prompts:
            return []
        seeds = default_seeds(prompts, seeds)
        if self._runner is None or not self._runner.usable:
            self.load()
        before = self.stats.retries
        if on_result is None:
            completions = self._runner.run(self._generate_all(list(prompts), params, seeds))
        else:
            arrived: queue.SimpleQueue = queue.SimpleQueue()
            loop = self._runner.loop

            def report(event: tuple[int, Completion, asyncio.Future]) -> None:
                i, completion, committed = event
                try:
                    on_result(i, completion)
                finally:
                    loop.call_soon_threadsafe(_settle, committed)

            completions = self._runner.run(self._generate_all(list(prompts), params, seeds, arrived), arrived, report)
        if self.stats.retries > before:
            log.info("%d queries done after %d retries (so far by reason: %s)", len(prompts),
                     self.stats.retries - before, dict(self.stats.failures))
        return completions

    async def _generate_all(self, prompts: list[Messages], params: GenerationParams, seeds: list[int],
                            arrived: queue.SimpleQueue | None = None) -> list[Completion]:
        # The request's seed: servers that honour it (vLLM, llama.cpp, OpenAI best-effort) give each query its own
        # reproducible sample, whatever else is in flight.
        async def one(i: int, prompt: Messages, seed: int) -> Completion:
            async def hand_over(completion: Completion) -> None:
                if arrived is not None:
                    committed = asyncio.get_running_loop().create_future()
                    arrived.put((i, completion, committed))
                    await committed

            return await self._complete(prompt, params, seed, hand_over)

        tasks = [asyncio.ensure_future(one(i, p, s)) for i, (p, s) in enumerate(zip(prompts, seeds, strict=True))]
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except BaseException:  # cancelled from outside (Ctrl-C): stop every request
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            # The answers that did arrive were paid for: hand them up so the query cache keeps them.
            raise with_partial(errors[0], [None if isinstance(r, BaseException) else r for r in results])
        return list(results)

    async def _complete(self, prompt: Messages, params: GenerationParams, seed: int,
                        hand_over: Callable[[Completion], Awaitable[None]]) -> Completion:
        body = self.request_body(prompt, params, seed)
        estimate = estimate_tokens(prompt, params.max_new_tokens)
        reason = "no attempt"
        for attempt in range(self.retry.max_retries + 1):
            async with self._semaphore:
                await self._limits.acquire(estimate)
                t0 = time.perf_counter()
                try:
                    completion = await self._post(body)
                except TransientError as exc:
                    reason, retry_after = exc.reason, exc.retry_after
                else:
                    self._book(completion, estimate, time.perf_counter() - t0)
                    await hand_over(completion)  # still holding the slot: see generate()
                    return completion
            self.stats.failures[reason.split(":")[0]] += 1
            if attempt == self.retry.max_retries:
                break
            wait = self.retry.delay(attempt, retry_after, self._rng)
            self.stats.retries += 1
            log.debug("retry %d after %s in %.2fs", attempt + 1, reason, wait)
            await asyncio.sleep(wait)  # outside the semaphore: a waiting retry does not hold a connection slot
        raise TeacherRequestError(self._redact(
            f"a query to {self.base_url}/chat/completions failed {self.retry.max_retries + 1} times (last: {reason}); "
            f"nothing of this batch was booked. Check the server, or raise teacher.backend.max_retries "
            f"(now {self.retry.max_retries}) or teacher.backend.timeout (now {self.timeout}s)"))

    def request_body(self, prompt: Messages, params: GenerationParams, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": prompt, "n": 1,
                                "temperature": params.temperature, "top_p": params.top_p,
                                self.max_tokens_field: params.max_new_tokens}
        if self.send_seed:
            body["seed"] = seed
        body.update(self.extra_body)
        return body

    async def _post(self, body: dict[str, Any]) -> Completion:
        import httpx

        try:
            resp = await self._client.post(f"{self.base_url}/chat/completions", json=body)
        except httpx.TimeoutException:
            raise TransientError("timeout") from None
        except httpx.RequestError as exc:
            raise TransientError(f"connection: {type(exc).__name__}") from None
        if resp.status_code != 200:
            if is_retryable_status(resp.status_code):
                raise TransientError(f"http_{resp.status_code}", parse_retry_after(resp.headers))
            hint = f"; check the key in ${self.api_key_env}" if resp.status_code in (401, 403) else ""
            raise TeacherRequestError(self._redact(
                f"{self.base_url}/chat/completions answered {resp.status_code}: {resp.text[:300]}{hint}"))
        try:
            data = resp.json()
        except ValueError:
            raise TransientError("malformed_json") from None
        return self._parse(data, body)

    def _parse(self, data: Any, body: dict[str, Any]) -> Completion:
        try:
            message = data["choices"][0]["message"]
            text = message.get("content") or ""
            if not isinstance(text, str):
                raise TypeError(type(text).__name__)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise TransientError("malformed_response") from None
        usage = data.get("usage") or {}
        prompt_tokens, completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if not isinstance(prompt_tokens, int) or not isinstance(completion_tokens, int):
            if not self._warned_usage:
                log.warning("the server returns no token usage; estimating tokens from characters (cost is approximate)")
                self._warned_usage = True
            prompt_tokens = estimate_tokens(body["messages"], 0)
            completion_tokens = max(1, len(text) // 4)
        return Completion(text=text.strip(), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    def _book(self, completion: Completion, estimate: int, seconds: float) -> None:
        self._limits.settle(estimate, completion.prompt_tokens + completion.completion_tokens)
        self.stats.responses += 1
        self.stats.prompt_tokens += completion.prompt_tokens
        self.stats.completion_tokens += completion.completion_tokens
        self.stats.latency_seconds += seconds

    def _redact(self, text: str) -> str:
        return redact(text, self._key)


def estimate_tokens(prompt: Messages, max_new_tokens: int) -> int:
    """A pre-request guess for the tokens-per-minute bucket (about 4 characters a token), corrected afterwards."""
    return sum(len(m.get("content") or "") for m in prompt) // 4 + 4 * len(prompt) + max_new_tokens


def _read_key(env_name: str | None) -> str | None:
    if not env_name:
        return None  # a local server without authentication
    key = os.environ.get(env_name)
    if not key:
        raise ValueError(f"teacher.backend.api_key_env={env_name!r}, but ${env_name} is not set: export the key in "
                         f"that variable, or set teacher.backend.api_key_env=null for a server without a key")
    return key


def _settle(committed: asyncio.Future) -> None:
    """Free a request's slot once the calling thread has handled its answer (or failed to: the call is ending)."""
    if not committed.done():
        committed.set_result(None)


async def _close_client(client) -> None:
    if client is not None:
        await client.aclose()


def _limits_note(teacher: OpenAITeacher) -> str:
    parts = [f"{v:g} {k}/min" for k, v in (("requests", teacher.requests_per_minute),
                                            ("tokens", teacher.tokens_per_minute)) if v]
    return f", limits {', '.join(parts)}" if parts else ""


def _validate(base_url: str, concurrency: int, timeout: float, max_tokens_field: str, price_prompt: float | None,
              price_completion: float | None, rpm: float | None, tpm: float | None) -> None:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"teacher.backend.base_url must start with http:// or https://, got {base_url!r}")
    if concurrency < 1:
        raise ValueError(f"teacher.backend.concurrency must be >= 1, got {concurrency}")
    if timeout <= 0:
        raise ValueError(f"teacher.backend.timeout must be > 0 seconds, got {timeout}")
    if max_tokens_field not in MAX_TOKENS_FIELDS:
        raise ValueError(f"teacher.backend.max_tokens_field={max_tokens_field!r}; valid: {', '.join(MAX_TOKENS_FIELDS)}")
    checked_price(price_prompt, price_completion)
    for name, value in (("requests_per_minute", rpm), ("tokens_per_minute", tpm)):
        if value is not None and value <= 0:
            raise ValueError(f"teacher.backend.{name} must be > 0 or null (no limit), got {value}")
