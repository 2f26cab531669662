"""An asyncio event loop on a daemon thread, so synchronous code can run coroutines over and over.

`asyncio.run` per call would tear down the HTTP connection pool after every batch and fails inside an already
running loop (Jupyter); one long-lived loop keeps connections alive across batches and works from anywhere.
"""
from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


_DONE = object()


async def _then_mark_done(coro: Coroutine[Any, Any, T], events: queue.SimpleQueue) -> T:
    try:
        return await coro
    finally:
        events.put(_DONE)


class BackgroundLoop:
    def __init__(self, name: str = "sgen-async") -> None:
        self.pid = os.getpid()  # a forked child inherits this object but not the thread: it must build its own
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def usable(self) -> bool:
        return self.pid == os.getpid() and self._thread.is_alive() and not self.loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, T], events: queue.SimpleQueue | None = None,
            on_event: Callable[[Any], None] | None = None) -> T:
        """Run a coroutine on the loop and wait for its result; an interrupt (Ctrl-C) cancels it. With `events`,
        whatever the coroutine puts there is handed to `on_event` on this (the calling) thread as it arrives, so
        the handler may use objects bound to this thread (a SQLite connection)."""
        if events is None:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        else:
            future = asyncio.run_coroutine_threadsafe(_then_mark_done(coro, events), self.loop)
        try:
            if events is not None:
                while (event := events.get()) is not _DONE:
                    on_event(event)
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self, cleanup: Coroutine[Any, Any, Any] | None = None) -> None:
        """Run an optional clean-up coroutine (close the HTTP client), then stop the loop and join the thread."""
        if not self.usable:
            if cleanup is not None:
                cleanup.close()  # never awaited: silence the "coroutine was never awaited" warning
            return
        if cleanup is not None:
            try:
                asyncio.run_coroutine_threadsafe(cleanup, self.loop).result(timeout=10)
            except Exception:  # noqa: BLE001 - closing is best effort; the process may be exiting
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()
