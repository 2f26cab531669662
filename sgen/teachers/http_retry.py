"""Retry rules for served teachers: which failures are worth another try, and how long to wait before it."""
from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

# 408 request timeout, 409 conflict (a lock on the server), 425 too early, 429 rate limited, and every 5xx.
RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or 500 <= status < 600


class TransientError(Exception):
    """A failure another attempt may cure (rate limit, server error, timeout, broken connection or body)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class TeacherRequestError(RuntimeError):
    """A query that did not succeed: retries exhausted or a request the server will never accept."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter (AWS architecture blog, 2015): wait U(0, min(cap, base * 2^attempt)).

    Full jitter spreads the retries of many concurrent requests that failed together (one 429 burst) instead of
    sending them back in lock-step. A server's Retry-After is a floor on the wait, capped at `max_wait`.
    """

    max_retries: int = 8
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 120.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.max_wait < 0:
            raise ValueError(f"backoff_base, backoff_max and max_wait must be >= 0, got {self.backoff_base}, "
                             f"{self.backoff_max}, {self.max_wait}")

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2.0 ** attempt))
        jittered = (rng or random).uniform(0.0, ceiling)
        wait = jittered if retry_after is None else max(retry_after, jittered)
        return min(wait, self.max_wait)


def parse_retry_after(headers) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms` (OpenAI), else `Retry-After` as seconds or HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def redact(text: str, secret: str | None) -> str:
    """The text with every occurrence of the secret replaced: servers echo keys back in 401 bodies."""
    if secret:
        text = text.replace(secret, "[REDACTED]")
    return text
