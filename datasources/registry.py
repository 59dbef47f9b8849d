"""Adapter kinds by name, and the DataSources container the app builds once from settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datasources.base import DataSource
from datasources.cache import CachedSource, QueryCache
from datasources.errors import DataSourceError, SourceConfigError, UnknownSourceError
from datasources.sql import SQLSource

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger(__name__)

_KINDS: dict[str, type[DataSource]] = {}


def register_kind(kind: str, adapter: type[DataSource]) -> None:
    """Make adapter class `adapter` available to configuration under `kind` ("sql", "mongo"...)."""
    _KINDS[kind] = adapter


def get_kind(kind: str) -> type[DataSource]:
    """The adapter class registered under `kind`; SourceConfigError when none is."""
    try:
        return _KINDS[kind]
    except KeyError:
        raise SourceConfigError(f"unknown data source kind {kind!r}") from None


def kinds() -> list[str]:
    """Registered kinds whose driver is installed."""
    return sorted(kind for kind, adapter in _KINDS.items() if adapter.enabled())


register_kind("sql", SQLSource)


@dataclass(frozen=True)
class SourceConfig:
    """One configured source: a name, an adapter kind and the adapter's keyword arguments."""

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> DataSource:
        adapter = get_kind(self.kind)
        if not adapter.enabled():
            raise SourceConfigError(f"driver for data source kind {self.kind!r} is not installed")
        return adapter(self.name, **self.options)


class DataSources:
    """The configured sources of one process and the query cache they share.

    Build it once per process (`DataSources.from_settings(settings)`), hand `cached(name, scope)`
    to the analytics code, and `close()` it at shutdown.
    """

    def __init__(self, sources: Iterable[DataSource], cache: QueryCache) -> None:
        self._sources: dict[str, DataSource] = {}
        for source in sources:
            if source.name in self._sources:
                raise SourceConfigError(f"data source {source.name!r} is configured twice")
            self._sources[source.name] = source
        self.cache = cache

    @classmethod
    def from_configs(cls, configs: Iterable[SourceConfig], cache: QueryCache) -> DataSources:
        """Build every configured source; SourceConfigError for an unknown or uninstalled kind."""
        return cls([config.build() for config in configs], cache)

    @classmethod
    def from_settings(cls, settings: Settings) -> DataSources:
        """The `warehouse` SQL source on WAREHOUSE_URL, and the query cache the settings ask for.

        Args:
            settings: the validated settings of this process.

        Returns:
            A container; nothing connects until the first query or health check.
        """
        configs = [SourceConfig("warehouse", "sql", {"url": settings.warehouse_url})]
        return cls.from_configs(configs, QueryCache.from_settings(settings))

    def get(self, name: str) -> DataSource:
        """The uncached source `name`; UnknownSourceError when there is none."""
        try:
            return self._sources[name]
        except KeyError:
            raise UnknownSourceError(f"no data source named {name!r}", source=name) from None

    def names(self) -> list[str]:
        return list(self._sources)

    def cached(self, name: str, scope: str, *, refresh: bool = False) -> CachedSource:
        """Source `name` through the query cache, keyed by the caller's access `scope`.

        Args:
            name: a configured source name, e.g. "warehouse".
            scope: everything that changes what the caller may see (role, department, row
                filter); callers with different scopes never share a cache entry.
            refresh: re-run every query and overwrite the cached results.
        """
        return CachedSource(self.get(name), self.cache, scope=scope, refresh=refresh)

    def health(self) -> list[dict[str, Any]]:
        """Per source: name, kind, dialect, status "up"/"down", latency_ms, error (safe text or
        None). Runs each source's no-op query; never raises."""
        return [_probe(source) for source in self._sources.values()]

    def close(self) -> None:
        for source in self._sources.values():
            try:
                source.close()
            except Exception:  # closing must go on for the others
                log.exception("closing data source %s failed", source.name)
        self.cache.close()


def _probe(source: DataSource) -> dict[str, Any]:
    try:
        dialect: str | None = source.dialect
    except Exception:
        dialect = None
    started = time.monotonic()
    error: str | None = None
    try:
        source.test_connection()
    except DataSourceError as exc:
        error = exc.user_message
        log.warning("data source %s is down: %s", source.name, exc)
    except Exception:
        error = DataSourceError.user_message
        log.exception("health check of data source %s failed", source.name)
    return {
        "name": source.name,
        "kind": source.kind,
        "dialect": dialect,
        "status": "down" if error else "up",
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
        "error": error,
    }
