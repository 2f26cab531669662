"""Client-side rate limits for served teachers: token buckets for requests per minute and tokens per minute."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

_EPS = 1e-9


class TokenBucket:
    """Refills at `per_minute / 60` units a second and holds at most one second's worth (at least one request).

    A bucket that held a whole minute would let a burst of `per_minute` requests through at once; one second keeps
    the sending rate smooth, so a server's own per-minute window never sees more than the configured limit plus one
    second's refill. The level may go negative: a request larger than the bucket (a long prompt under a small
    tokens-per-minute limit) still runs once the bucket is full, and the debt delays whoever comes next.
    """

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if per_minute <= 0:
            raise ValueError(f"a rate limit must be > 0 per minute, got {per_minute}")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self._clock = clock
        self._sleep = sleep
        self._level = self.capacity
        self._stamp = clock()
        self._lock: asyncio.Lock | None = None
        self.waits = 0  # how often a caller had to wait: the limit actually slowed the run down

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, amount: float = 1.0) -> None:
        """Wait until `amount` units are available (capped at the bucket size), then take them."""
        if self._lock is None:
            self._lock = asyncio.Lock()  # created lazily, on the loop that uses it
        needed = min(amount, self.capacity)
        async with self._lock:  # first come, first served: a large request is not starved by small ones
            self._refill()
            if self._level < needed - _EPS:
                self.waits += 1
            # The epsilon ends the wait when float rounding leaves a shortfall no clock tick can refill.
            while self._level < needed - _EPS:
                await self._sleep((needed - self._level) / self.rate)
                self._refill()
            self._level -= amount

    def settle(self, estimated: float, actual: float) -> None:
        """Correct an estimate once the true amount is known (tokens reported in the response's usage)."""
        self._refill()
        self._level = min(self.capacity, self._level + estimated - actual)


class RateLimits:
    """Optional requests-per-minute and tokens-per-minute limits applied together before each request."""

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None) -> None:
        self.requests = TokenBucket(requests_per_minute) if requests_per_minute else None
        self.tokens = TokenBucket(tokens_per_minute) if tokens_per_minute else None

    async def acquire(self, estimated_tokens: int) -> None:
        if self.requests is not None:
            await self.requests.acquire(1.0)
        if self.tokens is not None:
            await self.tokens.acquire(float(estimated_tokens))

    def settle(self, estimated_tokens: int, actual_tokens: int) -> None:
        if self.tokens is not None:
            self.tokens.settle(estimated_tokens, actual_tokens)

    @property
    def waits(self) -> int:
        return sum(b.waits for b in (self.requests, self.tokens) if b is not None)
