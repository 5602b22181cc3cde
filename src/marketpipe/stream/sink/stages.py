"""The sink's two background stages, PostgreSQL then Redis, each one thread running jobs in order.

The main thread decodes batch N+2 while the PostgreSQL stage commits batch N+1 and the Redis stage
applies batch N: each stage strictly in batch order, at most one job waiting per stage (so memory
and the distance between the stages stay bounded). A job that raises stops its stage; the error is
handed to the main thread by :meth:`Stages.check` as a :class:`SinkError`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable

from marketpipe.stream.sink.errors import SinkError

log = logging.getLogger("marketpipe.stream.sink")


def bounded(job: Callable[[], None], timeout: float, what: str) -> bool:
    """Run ``job`` on a daemon thread; give up on it after ``timeout`` s. True when it finished."""
    thread = threading.Thread(target=job, name="sink-close", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        log.warning("%s did not finish within %.0f s; exiting without it", what, timeout)
        return False
    return True


class Stage:
    """One background thread running submitted jobs in order; at most one job waits."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.Queue[Callable[[], object] | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None:
                    job()
            except BaseException as exc:  # handed to the main thread by check()
                self._error = exc
            finally:
                self._jobs.task_done()

    def submit(self, job: Callable[[], object]) -> None:
        self.check()
        self._jobs.put(job)

    def idle(self) -> bool:
        return self._jobs.unfinished_tasks == 0

    def drain(self) -> None:
        self._jobs.join()

    def check(self) -> None:
        if self._error is not None:
            raise SinkError(
                f"the writer failed: {type(self._error).__name__}: {self._error}"
            ) from self._error

    def close(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._jobs.put(None, timeout=30)
            self._thread.join(30)


class Stages:
    """The two ordered stages after decoding: PostgreSQL (rows + offsets), then Redis."""

    def __init__(self) -> None:
        self.pg = Stage("sink-pg")
        self.redis = Stage("sink-redis")

    def check(self) -> None:
        self.pg.check()
        self.redis.check()

    def drain(self) -> None:
        self.pg.drain()  # may still hand work to the Redis stage
        self.redis.drain()

    def idle(self) -> bool:
        return self.pg.idle() and self.redis.idle()

    def close(self) -> None:
        self.pg.close()
        self.redis.close()
