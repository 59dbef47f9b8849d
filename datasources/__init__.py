"""Data source adapters, their registry and the cached fetch every number goes through."""

from datasources.base import DataSource, Fetcher, Query
from datasources.cache import (
    CacheBackend,
    CacheBackendError,
    CachedSource,
    CacheEntryError,
    CacheStats,
    DiskCacheBackend,
    QueryCache,
    RedisBackend,
)
from datasources.errors import (
    DataSourceError,
    QueryError,
    QueryTimeoutError,
    SourceConfigError,
    SourceUnavailableError,
    UnknownSourceError,
)
from datasources.registry import DataSources, SourceConfig, get_kind, kinds, register_kind
from datasources.sql import SQLSource

__all__ = [
    "CacheBackend",
    "CacheBackendError",
    "CacheEntryError",
    "CacheStats",
    "CachedSource",
    "DataSource",
    "DataSourceError",
    "DataSources",
    "DiskCacheBackend",
    "Fetcher",
    "Query",
    "QueryCache",
    "QueryError",
    "QueryTimeoutError",
    "RedisBackend",
    "SQLSource",
    "SourceConfig",
    "SourceConfigError",
    "SourceUnavailableError",
    "UnknownSourceError",
    "get_kind",
    "kinds",
    "register_kind",
]
