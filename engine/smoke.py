"""The blue-green smoke test: generate every built-in template, pass/fail per template, no data out."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from engine.generate import generate
from engine.periods import resolve
from engine.services import Services
from engine.templates import builtin_dashboards
from security.users import Principal

log = logging.getLogger(__name__)

# An unauthenticated caller may ask as often as it likes: one run per process at a time, and a
# run's answer is reused for this long, so the endpoint cannot be used to load the warehouse.
REUSE_SECONDS = 10.0
SMOKE_PERIOD = "30d"
# Who the smoke test generates as: every report, every row. Nothing it computes leaves the
# process except pass/fail, times and the widgets' safe error messages.
SMOKE_PRINCIPAL = Principal(0, "smoke-test", "admin")


@dataclass(frozen=True)
class SmokeRun:
    passed: bool
    seconds: float
    templates: list[dict[str, Any]]
    finished: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "pass" if self.passed else "fail",
            "seconds": round(self.seconds, 3),
            "templates": self.templates,
        }


def run_smoke_test(services: Services) -> SmokeRun:
    """Generate each built-in template over the last 30 days with fresh queries (not the cache:
    a green slot sharing the blue one's Redis must still reach the warehouse itself)."""
    window = resolve(SMOKE_PERIOD, services.settings.report_timezone)
    started = time.perf_counter()
    templates = []
    for key, spec in builtin_dashboards().items():
        began = time.perf_counter()
        failed: list[dict[str, str]] = []
        try:
            results = generate(spec, window, SMOKE_PRINCIPAL, services, refresh=True, record=False)
            failed = [{"id": r.widget.id, "message": r.error} for r in results if r.error]
        except Exception:  # noqa: BLE001 - a template that cannot generate at all fails
            log.exception("smoke test of template %s failed", key)
            failed = [
                {"id": "*", "message": "The report could not be generated. The error was logged."}
            ]
        templates.append(
            {
                "id": key,
                "title": spec.title,
                "status": "fail" if failed else "pass",
                "seconds": round(time.perf_counter() - began, 3),
                "widgets": len(spec.widgets),
                "failed_widgets": failed,
            }
        )
    passed = all(t["status"] == "pass" for t in templates)
    if not passed:
        log.warning(
            "smoke test failed: %s", ", ".join(t["id"] for t in templates if t["status"] == "fail")
        )
    return SmokeRun(passed, time.perf_counter() - started, templates)


_last: dict[int, tuple[Services, SmokeRun]] = {}
_locks: dict[int, threading.Lock] = {}
_guard = threading.Lock()


def smoke_test(services: Services) -> SmokeRun:
    """The last run if it finished under REUSE_SECONDS ago, else a new one (callers arriving
    during a run wait for it and share its answer)."""
    with _guard:
        lock = _locks.setdefault(id(services), threading.Lock())
    with lock:
        entry = _last.get(id(services))
        if (
            entry is not None
            and entry[0] is services
            and time.monotonic() - entry[1].finished < REUSE_SECONDS
        ):
            return entry[1]
        run = run_smoke_test(services)
        _last[id(services)] = (services, run)
        return run
