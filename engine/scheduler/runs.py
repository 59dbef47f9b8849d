"""Run plumbing shared by the scheduler: the UTC clock, the run context a render polls to stop,
and the executors claimed runs are handed to (`Executor`, `ThreadExecutor`)."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# Run context (for cooperative cancellation inside `render`)


class RunCancelled(Exception):
    """Raised by `check_cancelled()` inside a render whose run passed its deadline."""


@dataclass(frozen=True)
class RunContext:
    run_id: int
    schedule_id: int
    due_at: datetime
    deadline: float  # time.monotonic() value
    cancelled: threading.Event = field(default_factory=threading.Event)


_current_run: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "nexpo_run", default=None
)


def current_run() -> RunContext | None:
    """The run being rendered on this thread, if any."""
    return _current_run.get()


def check_cancelled() -> None:
    """Raise RunCancelled when the current run has been stopped (timeout); a no-op elsewhere."""
    ctx = _current_run.get()
    if ctx is not None and ctx.cancelled.is_set():
        raise RunCancelled(f"run {ctx.run_id} was stopped")


class RunTimeout(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Executors


class Executor(Protocol):
    """Where claimed runs execute. `free_slots` bounds how many runs an instance claims."""

    def free_slots(self) -> int: ...

    def submit(self, run_id: int, execute: Callable[[int], None]) -> None: ...

    def drain(self, timeout: float | None = None) -> bool: ...

    def shutdown(self, wait: bool = True) -> None: ...


class ThreadExecutor:
    """In-process workers: at most `max_workers` runs at once (REPORT_CONCURRENT_LIMIT)."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="nexpo-run")
        self._lock = threading.Condition()
        self._in_flight = 0

    def free_slots(self) -> int:
        with self._lock:
            return self.max_workers - self._in_flight

    def submit(self, run_id: int, execute: Callable[[int], None]) -> None:
        with self._lock:
            self._in_flight += 1

        def job() -> None:
            try:
                execute(run_id)
            except Exception:  # noqa: BLE001 - a worker must survive any run
                log.exception("run %s crashed its worker", run_id)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._lock.notify_all()

        self._pool.submit(job)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until no run is in flight; False if `timeout` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: self._in_flight == 0, timeout)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
