"""Run an asyncio producer until a signal, a deadline or a stop request; report stats periodically.

:func:`run_producer` is what the CLI calls. :class:`ProducerThread` runs the same coroutine on a
background thread with its own event loop — for embedding a producer in another process (the demo,
the integration tests) and stopping it cleanly from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable

from marketpipe.stream.producers.pacing import wait_or_stop
from marketpipe.stream.producers.stats import ProducerStats

ProducerMain = Callable[[asyncio.Event], Awaitable[None]]


async def run_producer(
    main: ProducerMain,
    stats: ProducerStats,
    logger: logging.Logger,
    *,
    log_interval: float = 30.0,
    max_seconds: float | None = None,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Run ``main(stop)``; SIGINT/SIGTERM or ``max_seconds`` set ``stop``; log stats every ``log_interval`` s."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if handle_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
    deadline = loop.call_later(max_seconds, stop.set) if max_seconds else None

    async def report_periodically() -> None:
        while not stop.is_set():
            if not await wait_or_stop(stop, log_interval):
                stats.report(logger)

    reporter = asyncio.create_task(report_periodically(), name="producer-stats")
    try:
        await main(stop)
    finally:
        stop.set()
        if deadline is not None:
            deadline.cancel()
        reporter.cancel()
        await asyncio.gather(reporter, return_exceptions=True)
        for sig in installed:
            loop.remove_signal_handler(sig)
        stats.report(logger)


class ProducerThread:
    """Run ``main(stop)`` on a daemon thread with its own event loop; ``stop()`` ends it gracefully."""

    def __init__(self, main: ProducerMain, name: str = "producer") -> None:
        self._main = main
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        async def body() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self._main(self._stop)

        try:
            asyncio.run(body())
        except BaseException as exc:  # surfaced to the owner by stop()/join()
            self.error = exc
        finally:
            self._ready.set()

    def start(self) -> ProducerThread:
        """Start the thread and wait until its loop runs."""
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self, timeout: float = 90.0) -> None:
        """Ask the producer to stop, wait for it, and re-raise its error if it failed."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already finished
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(
                f"producer thread {self._thread.name} did not stop within {timeout}s; it is at:\n{self._where()}"
            )
        if self.error is not None:
            raise self.error

    def _where(self) -> str:
        """The thread's current stack and its event loop's pending tasks (for a stuck shutdown)."""
        frame = sys._current_frames().get(self._thread.ident or -1)
        where = "".join(traceback.format_stack(frame)) if frame is not None else "(no frame)"
        if self._loop is not None and not self._loop.is_closed():
            tasks = asyncio.all_tasks(self._loop)
            where += "\n".join(f"task {t.get_name()}: {t.get_stack(limit=3)}" for t in tasks)
        return where

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> ProducerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
