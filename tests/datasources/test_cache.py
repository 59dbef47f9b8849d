"""The query cache on diskcache and on a real Redis: hits, keys, refresh, expiry, fallback, single-flight."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from datasources import (
    CachedSource,
    DataSource,
    DiskCacheBackend,
    Query,
    QueryCache,
    QueryError,
    RedisBackend,
)


class CountingSource(DataSource):
    """A real, tiny source: answers every query with one row and counts its executions."""

    kind = "counting"

    def __init__(self, name: str = "counting", *, delay: float = 0.0, fail: bool = False):
        super().__init__(name)
        self.executions = 0
        self.timeouts: list[float | None] = []
        self.delay = delay
        self.fail = fail
        self._lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return "test"

    def execute(self, query: Query, *, timeout: float | None = None) -> pd.DataFrame:
        with self._lock:
            self.executions += 1
            run = self.executions
            self.timeouts.append(timeout)
        time.sleep(self.delay)
        if self.fail:
            raise QueryError("boom", source=self.name)
        return pd.DataFrame({"text": [query.text], "params": [dict(query.params)], "run": [run]})

    def test_connection(self) -> None:
        pass


@pytest.fixture(params=["diskcache", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, tmp_path):
    if request.param == "diskcache":
        built = DiskCacheBackend(tmp_path / "cache")
    else:
        built = RedisBackend(request.getfixturevalue("redis_url"))
    yield built
    built.close()


def cached(backend, source=None, *, scope="role:admin", ttl=60, **kwargs) -> CachedSource:
    cache = QueryCache(backend, ttl=ttl, timeout=7, **kwargs)
    return CachedSource(source or CountingSource(), cache, scope=scope)


Q = Query("SELECT * FROM t WHERE x = :x", {"x": 1})


def test_second_fetch_is_a_hit_and_does_not_run_the_source(backend):
    fetcher = cached(backend)

    first = fetcher.fetch(Q)
    second = fetcher.fetch(Q)

    assert fetcher.source.executions == 1
    pd.testing.assert_frame_equal(first, second)
    assert (fetcher.stats.hits, fetcher.stats.misses) == (1, 1)


def test_hit_is_shared_by_whitespace_variants_of_one_query(backend):
    fetcher = cached(backend)

    fetcher.fetch(Query("SELECT *  FROM t\n WHERE x = :x", {"x": 1}))
    fetcher.fetch(Q)

    assert fetcher.source.executions == 1


def test_key_differs_by_scope(backend):
    source = CountingSource()
    cache = QueryCache(backend, ttl=60)

    CachedSource(source, cache, scope="department:sales").fetch(Q)
    CachedSource(source, cache, scope="department:support").fetch(Q)
    CachedSource(source, cache, scope="department:sales").fetch(Q)

    assert source.executions == 2


def test_key_differs_by_params(backend):
    fetcher = cached(backend)

    a = fetcher.fetch(Query(Q.text, {"x": 1}))
    b = fetcher.fetch(Query(Q.text, {"x": 2}))

    assert fetcher.source.executions == 2
    assert a["params"][0] == {"x": 1} and b["params"][0] == {"x": 2}


def test_key_differs_by_source_name(backend):
    cache = QueryCache(backend, ttl=60)
    one, two = CountingSource("one"), CountingSource("two")

    CachedSource(one, cache).fetch(Q)
    CachedSource(two, cache).fetch(Q)

    assert (one.executions, two.executions) == (1, 1)


def test_refresh_runs_again_and_overwrites_the_cache(backend):
    fetcher = cached(backend)
    fetcher.fetch(Q)

    refreshed = fetcher.fetch(Q, refresh=True)
    after = fetcher.fetch(Q)

    assert fetcher.source.executions == 2
    assert refreshed["run"][0] == 2
    assert after["run"][0] == 2


def test_entry_expires_after_ttl(backend):
    fetcher = cached(backend, ttl=1)
    fetcher.fetch(Q)

    time.sleep(1.1)
    fetcher.fetch(Q)

    assert fetcher.source.executions == 2


def test_timeout_setting_is_passed_to_execute(backend):
    fetcher = cached(backend)

    fetcher.fetch(Q)

    assert fetcher.source.timeouts == [7]


def test_errors_are_not_cached(backend):
    source = CountingSource(fail=True)
    fetcher = cached(backend, source)

    for _ in range(2):
        with pytest.raises(QueryError):
            fetcher.fetch(Q)

    assert source.executions == 2


def test_ttl_zero_disables_caching(backend):
    fetcher = cached(backend, ttl=0)

    fetcher.fetch(Q)
    fetcher.fetch(Q)

    assert fetcher.source.executions == 2


def test_no_backend_disables_caching():
    fetcher = cached(None)

    fetcher.fetch(Q)
    fetcher.fetch(Q)

    assert fetcher.source.executions == 2


def test_caller_may_modify_the_frame_without_touching_the_cache(backend):
    fetcher = cached(backend)

    mine = fetcher.fetch(Q)
    mine["run"] = 99

    assert fetcher.fetch(Q)["run"][0] == 1


def test_forget_drops_the_entry(backend):
    fetcher = cached(backend)
    fetcher.fetch(Q)

    fetcher.forget(Q)
    fetcher.fetch(Q)

    assert fetcher.source.executions == 2


def test_concurrent_identical_fetches_execute_once(backend):
    fetcher = cached(backend, CountingSource(delay=0.3))
    start = threading.Barrier(8)

    def fetch_after_barrier(_: int) -> pd.DataFrame:
        start.wait()
        return fetcher.fetch(Q)

    with ThreadPoolExecutor(8) as pool:
        frames = list(pool.map(fetch_after_barrier, range(8)))

    assert fetcher.source.executions == 1
    assert all(frame["run"][0] == 1 for frame in frames)
    assert fetcher.stats.misses == 1
    assert fetcher.stats.hits + fetcher.stats.coalesced == 7


def test_concurrent_different_scopes_do_not_share_a_flight(backend):
    source = CountingSource(delay=0.2)
    cache = QueryCache(backend, ttl=60)
    scopes = ["a", "b", "a", "b"]

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda s: CachedSource(source, cache, scope=s).fetch(Q), scopes))

    assert source.executions == 2


def test_concurrent_limit_caps_queries_running_at_once(backend):
    running, peak = 0, 0
    lock = threading.Lock()

    class Slow(CountingSource):
        def execute(self, query, *, timeout=None):
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            try:
                time.sleep(0.1)
                return super().execute(query, timeout=timeout)
            finally:
                with lock:
                    running -= 1

    fetcher = cached(backend, Slow(), concurrent_limit=2)
    queries = [Query("SELECT :i", {"i": i}) for i in range(6)]

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(fetcher.fetch, queries))

    assert fetcher.source.executions == 6
    assert peak == 2


def test_redis_down_falls_back_to_running_the_query(caplog):
    fetcher = cached(RedisBackend("redis://127.0.0.1:1/0", connect_timeout=0.5))

    with caplog.at_level(logging.WARNING, logger="datasources.cache"):
        first = fetcher.fetch(Q)
        second = fetcher.fetch(Q)

    assert first["text"][0] == Q.text and second["text"][0] == Q.text
    assert fetcher.source.executions == 2
    assert fetcher.stats.backend_errors >= 1
    assert "unavailable" in caplog.text


def test_unreadable_entry_is_a_miss_not_a_failure(tmp_path):
    backend = DiskCacheBackend(tmp_path / "cache")
    fetcher = cached(backend)
    fetcher.fetch(Q)
    key = next(iter(backend._cache.iterkeys()))
    backend._cache.set(key, b"not a pickle")

    frame = fetcher.fetch(Q)
    fetcher.fetch(Q)

    assert frame["text"][0] == Q.text
    assert fetcher.source.executions == 2  # the rewritten entry is a hit again
    assert fetcher.stats.backend_errors == 0
