"""Shared parts for scheduler tests: a settable clock, a CSV-writing render, a recording channel."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.schedules import Artifact, Bundle, DeliveryResult, Recipient
from settings import Settings
from store.models import Schedule


class Clock:
    """The scheduler's notion of now, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def set(self, now: datetime) -> None:
        with self._lock:
            self.now = now

    def advance(self, **kwargs: float) -> None:
        self.set(self.now + timedelta(**kwargs))


class CsvReport:
    """A real render: writes a small CSV for each (schedule, due time) and returns it.

    `rows` is the data; change it to make the next run's data differ."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.rows = [("2026-01", "1200.00"), ("2026-02", "1350.50")]
        self.calls: list[tuple[int, datetime]] = []
        self.lock = threading.Lock()

    def __call__(self, schedule: Schedule, due_at: datetime) -> list[Artifact]:
        with self.lock:
            self.calls.append((schedule.id, due_at))
        folder = self.folder / f"s{schedule.id}-{due_at:%Y%m%dT%H%M%S%f}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{schedule.report_ref}.csv"
        path.write_text("month,mrr\n" + "".join(f"{m},{v}\n" for m, v in self.rows))
        return [Artifact.from_file(path, "text/csv")]


@dataclass
class Collect:
    """A channel that keeps what it is given (for scheduler logic; real channels are tested on
    real servers in tests/delivery and in test_scheduler_delivery.py)."""

    name: str = "collect"
    sent: list[tuple[int, datetime, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, bundle: Bundle, recipient: Recipient) -> DeliveryResult:
        with self.lock:
            self.sent.append((bundle.schedule_id, bundle.due_at, recipient.address))
        return DeliveryResult(
            self.name, recipient.label, 1, {"files": [a.name for a in bundle.artifacts]}
        )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_settings(instance: Path, **env: str) -> Settings:
    values = {
        "INSTANCE_PATH": str(instance),
        "LOG_LEVEL": "warning",
        "REPORT_TIMEOUT_SECONDS": "30",
        "REPORT_CONCURRENT_LIMIT": "4",
    }
    values.update({k.upper(): v for k, v in env.items()})
    return Settings.from_env(values)
