"""Cached fetch: result cache backends (diskcache, Redis), single-flight and a global query limit."""

from __future__ import annotations

import logging
import pickle
import threading
import time
from abc import ABC, abstractmethod
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from datasources.base import DataSource, Query
from datasources.errors import QueryTimeoutError

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger(__name__)

# Bump when the stored format changes, so old entries are simply never read again.
KEY_PREFIX = "nexpo:query:v1:"
# After a backend failure, skip the cache this long instead of paying a failed round trip per query.
BACKEND_RETRY_SECONDS = 5.0


class CacheBackendError(Exception):
    """The cache store failed; callers fall back to running the query uncached."""


class CacheEntryError(CacheBackendError):
    """One stored entry cannot be read (another pandas version, truncated): a miss, not an outage."""


class CacheBackend(ABC):
    """A key-value store of DataFrames with expiry; every failure is raised as CacheBackendError."""

    name: str

    @abstractmethod
    def get(self, key: str) -> pd.DataFrame | None:
        """The cached frame, or None when absent or expired."""

    @abstractmethod
    def set(self, key: str, frame: pd.DataFrame, ttl: int) -> None:
        """Store `frame` under `key` for `ttl` seconds."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Forget `key` (no error when absent)."""

    def ping(self) -> None:
        """Raise CacheBackendError when the store cannot answer."""
        self.get(KEY_PREFIX + "ping")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def _dumps(frame: pd.DataFrame) -> bytes:
    # pickle: the fastest round trip for small frames (STACK_NOTES: Arrow 3-4x slower, JSON 10x+).
    return pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(blob: bytes) -> pd.DataFrame:
    try:
        frame = pickle.loads(blob)
    except Exception as exc:  # written by another pandas version, or truncated
        raise CacheEntryError(f"unreadable cache entry: {type(exc).__name__}") from None
    if not isinstance(frame, pd.DataFrame):
        raise CacheEntryError(f"cache entry is a {type(frame).__name__}, not a DataFrame")
    return frame


class DiskCacheBackend(CacheBackend):
    """diskcache (SQLite index + files) under `<instance>/cache`; shared by the processes of one host."""

    name = "diskcache"

    def __init__(self, directory: str | Path, *, size_limit: int = 2**30) -> None:
        import diskcache

        self.directory = Path(directory)
        self._cache = diskcache.Cache(str(self.directory), size_limit=size_limit)

    def get(self, key: str) -> pd.DataFrame | None:
        try:
            blob = self._cache.get(key)
        except Exception as exc:
            raise CacheBackendError(f"diskcache get failed: {exc}") from None
        return None if blob is None else _loads(blob)

    def set(self, key: str, frame: pd.DataFrame, ttl: int) -> None:
        try:
            self._cache.set(key, _dumps(frame), expire=ttl)
        except Exception as exc:
            raise CacheBackendError(f"diskcache set failed: {exc}") from None

    def delete(self, key: str) -> None:
        try:
            self._cache.delete(key)
        except Exception as exc:
            raise CacheBackendError(f"diskcache delete failed: {exc}") from None

    def close(self) -> None:
        self._cache.close()


class RedisBackend(CacheBackend):
    """Redis via redis-py; short socket timeouts so a dead Redis costs little before we fall back."""

    name = "redis"

    def __init__(
        self, url: str, *, connect_timeout: float = 1.0, socket_timeout: float = 2.0
    ) -> None:
        import redis

        self._redis_error = redis.RedisError
        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=connect_timeout, socket_timeout=socket_timeout
        )

    def get(self, key: str) -> pd.DataFrame | None:
        try:
            blob = self._client.get(key)
        except (self._redis_error, OSError) as exc:
            raise CacheBackendError(f"redis get failed: {exc}") from None
        return None if blob is None else _loads(blob)

    def set(self, key: str, frame: pd.DataFrame, ttl: int) -> None:
        try:
            self._client.set(key, _dumps(frame), ex=ttl)
        except (self._redis_error, OSError) as exc:
            raise CacheBackendError(f"redis set failed: {exc}") from None

    def delete(self, key: str) -> None:
        try:
            self._client.delete(key)
        except (self._redis_error, OSError) as exc:
            raise CacheBackendError(f"redis delete failed: {exc}") from None

    def ping(self) -> None:
        try:
            self._client.ping()
        except (self._redis_error, OSError) as exc:
            raise CacheBackendError(f"redis ping failed: {exc}") from None

    def close(self) -> None:
        self._client.close()


@dataclass
class CacheStats:
    """Plain counters for /metrics: hits, misses (query executed), coalesced (joined an identical
    running query), backend_errors (cache store failures that fell back to uncached)."""

    hits: int = 0
    misses: int = 0
    coalesced: int = 0
    backend_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, counter: str) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)

    def as_dict(self) -> dict[str, int]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "coalesced": self.coalesced,
            "backend_errors": self.backend_errors,
        }


class QueryCache:
    """Process-wide state every CachedSource shares: backend, TTL, timeout, the limit on running
    queries, the in-flight table for single-flight, and the counters.

    Args:
        backend: where results live; None disables caching (single-flight and the limit still apply).
        ttl: seconds a result stays cached; 0 disables caching.
        timeout: seconds passed to `DataSource.execute`.
        concurrent_limit: most queries executing at once in this process.
    """

    def __init__(
        self,
        backend: CacheBackend | None,
        *,
        ttl: int,
        timeout: float | None = None,
        concurrent_limit: int = 10,
    ) -> None:
        self.backend = backend
        self.ttl = ttl
        self.timeout = timeout
        self.stats = CacheStats()
        self._slots = threading.BoundedSemaphore(concurrent_limit)
        self._inflight: dict[str, Future[pd.DataFrame]] = {}
        self._inflight_lock = threading.Lock()
        self._backend_down_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryCache:
        """Redis when REDIS_URL is set, else diskcache under `<instance>/cache`; none when
        ENABLE_CACHING is false or REPORT_CACHE_TTL is 0."""
        backend: CacheBackend | None = None
        if settings.enable_caching and settings.report_cache_ttl > 0:
            if settings.redis_url:
                backend = RedisBackend(settings.redis_url)
            else:
                backend = DiskCacheBackend(settings.instance / "cache")
        return cls(
            backend,
            ttl=settings.report_cache_ttl,
            timeout=settings.report_timeout_seconds,
            concurrent_limit=settings.report_concurrent_limit,
        )

    @property
    def enabled(self) -> bool:
        return self.backend is not None and self.ttl > 0

    def fetch(
        self,
        source: DataSource,
        query: Query,
        *,
        scope: str = "",
        refresh: bool = False,
        also: CacheStats | None = None,
    ) -> pd.DataFrame:
        """The rows of `query` on `source` for callers with access `scope`, from cache when fresh.

        Identical concurrent calls (same source, query and scope) share one execution. The
        outcome (hit, miss or coalesced) is counted in `stats` and, when given, in `also` (a
        caller's own counters: engine.generate tells per widget whether it came from the cache).
        """
        key = f"{KEY_PREFIX}{source.name}:{query.key(scope)}"
        # A refresh must not join a plain fetch that may answer from the cache, so each has its own flight.
        flight = f"{key}:refresh" if refresh else key
        with self._inflight_lock:
            future = self._inflight.get(flight)
            leader = future is None
            if future is None:
                future = self._inflight[flight] = Future()
        if not leader:
            # Another thread is already reading or running this very query: wait for its answer.
            self._count("coalesced", also)
            return future.result().copy(deep=False)
        try:
            frame = self._read_or_run(source, query, key, refresh, also)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(frame)
        finally:
            with self._inflight_lock:
                self._inflight.pop(flight, None)
        # Copy-on-write (pandas 3): a shallow copy shields each caller from the others' edits.
        return frame.copy(deep=False)

    def forget(self, source: DataSource, query: Query, *, scope: str = "") -> None:
        """Drop the cached result of `query` for `scope`, if any."""
        if self.enabled:
            self._backend_call("delete", f"{KEY_PREFIX}{source.name}:{query.key(scope)}")

    def _count(self, counter: str, also: CacheStats | None) -> None:
        self.stats.add(counter)
        if also is not None:
            also.add(counter)

    def _read_or_run(
        self, source: DataSource, query: Query, key: str, refresh: bool, also: CacheStats | None
    ) -> pd.DataFrame:
        if self.enabled and not refresh:
            cached = self._backend_call("get", key)
            if cached is not None:
                self._count("hits", also)
                return cached
        self._count("misses", also)
        frame = self._run(source, query)
        if self.enabled:
            self._backend_call("set", key, frame, self.ttl)
        return frame

    def _run(self, source: DataSource, query: Query) -> pd.DataFrame:
        # Waiting for a slot longer than a query may run means the service is saturated.
        if not self._slots.acquire(timeout=self.timeout):
            raise QueryTimeoutError(
                "no free query slot",
                source=source.name,
                user_message="Too many reports are running right now. Try again in a minute.",
            )
        try:
            return source.execute(query, timeout=self.timeout)
        finally:
            self._slots.release()

    def _backend_call(self, method: str, *args: object) -> pd.DataFrame | None:
        """Call the backend; on failure log, count, back off for a few seconds and return None."""
        if time.monotonic() < self._backend_down_until:
            return None
        assert self.backend is not None
        try:
            return getattr(self.backend, method)(*args)
        except CacheEntryError as exc:
            log.warning("dropping unreadable query cache entry %s: %s", args[0], exc)
            self._backend_call("delete", args[0])
            return None
        except CacheBackendError as exc:
            self.stats.add("backend_errors")
            self._backend_down_until = time.monotonic() + BACKEND_RETRY_SECONDS
            log.warning(
                "query cache %s unavailable, running queries uncached for %.0fs: %s",
                self.backend.name,
                BACKEND_RETRY_SECONDS,
                exc,
            )
            return None

    def health(self) -> dict[str, object]:
        """{"backend", "status": "up"|"down"|"disabled"} of the cache store; never raises."""
        if not self.enabled:
            return {"backend": None, "status": "disabled"}
        assert self.backend is not None
        try:
            self.backend.ping()
        except CacheBackendError:
            return {"backend": self.backend.name, "status": "down"}
        return {"backend": self.backend.name, "status": "up"}

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


class CachedSource:
    """A DataSource seen through the query cache with one caller's access scope; a Fetcher.

    The scope (role, department, row filter...) is part of the key, so two callers who may see
    different rows never share an entry. With `refresh=True` every fetch re-runs its query and
    overwrites the cache (a user's "Refresh" button).
    """

    def __init__(
        self, source: DataSource, cache: QueryCache, *, scope: str = "", refresh: bool = False
    ) -> None:
        self.source = source
        self.cache = cache
        self.scope = scope
        self.refresh = refresh
        self.name = source.name
        # What this view's own fetches did (the process-wide counters are `stats`).
        self.outcomes = CacheStats()

    @property
    def dialect(self) -> str:
        return self.source.dialect

    @property
    def can_derive(self) -> bool:
        return self.source.can_derive

    @property
    def stats(self) -> CacheStats:
        return self.cache.stats

    def fetch(self, query: Query, *, refresh: bool = False) -> pd.DataFrame:
        """Rows of `query`, from the cache when fresh.

        Args:
            query: the query in the source's language.
            refresh: skip the cached copy, run the query and overwrite the cache.

        Returns:
            The result frame (a caller may modify it freely).
        """
        return self.cache.fetch(
            self.source,
            query,
            scope=self.scope,
            refresh=refresh or self.refresh,
            also=self.outcomes,
        )

    def forget(self, query: Query) -> None:
        """Drop the cached result of `query` for this scope."""
        self.cache.forget(self.source, query, scope=self.scope)
