"""A dashboard page's prefetch: every widget's queries run once, before the widgets ask."""

from __future__ import annotations

import threading
import time

from datasources.cache import DiskCacheBackend, QueryCache
from datasources.registry import DataSources
from engine.generate import generate, prefetch
from engine.periods import resolve
from engine.services import Services
from engine.templates import builtin_dashboards
from security.users import Principal

ADMIN = Principal(1, "admin", "admin")


def _services(app, cache: QueryCache) -> Services:
    svc = app.server.extensions["nexpo"]
    return Services(svc.settings, svc.store, DataSources([svc.sources.get("warehouse")], cache))


def _wait_for_prefetch(key: str) -> None:
    deadline = time.monotonic() + 60
    while any(t.name == f"prefetch-{key}" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "prefetch still running after 60 s"
        time.sleep(0.02)


def test_after_a_prefetch_the_widgets_run_no_query(app, tmp_path):
    cache = QueryCache(DiskCacheBackend(tmp_path / "cache"), ttl=300)
    svc = _services(app, cache)
    spec = builtin_dashboards()["revenue_analytics"]
    window = resolve("30d", svc.settings.report_timezone)

    assert prefetch(spec, window, ADMIN, svc)
    _wait_for_prefetch(spec.key)
    executed = cache.stats.misses
    assert executed > 0

    results = generate(spec, window, ADMIN, svc)
    assert all(r.error is None for r in results)
    assert cache.stats.misses == executed  # every query answered from the cache


def test_no_prefetch_without_a_query_cache(app):
    svc = _services(app, QueryCache(None, ttl=0))
    spec = builtin_dashboards()["revenue_analytics"]
    window = resolve("30d", svc.settings.report_timezone)
    assert not prefetch(spec, window, ADMIN, svc)
