"""The small base every adapter implements, and the Query value that travels through the cache."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import pandas as pd


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot hash query parameter of type {type(value).__name__}")


@dataclass(frozen=True)
class Derived:
    """A table the service derives from a source's own tables and keeps beside them.

    The source builds it (`CREATE TABLE <schema>.<name> AS <sql>`) the first time a query needs
    it, and keeps it only as long as the source's data cannot change (see
    `SQLSource.can_derive`). `name` must change whenever `sql` or `params` do: callers derive it
    from a hash of both, so a kept table is always the one the text asks for.
    """

    name: str
    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def name_for(prefix: str, sql: str, params: Mapping[str, Any]) -> str:
        """`prefix_<16 hex>`: a table name unique to this build statement and its parameters."""
        canonical = json.dumps(dict(params), sort_keys=True, default=_json_default)
        digest = hashlib.sha256(f"{' '.join(sql.split())}\n{canonical}".encode()).hexdigest()
        return f"{prefix}_{digest[:16]}"


@dataclass(frozen=True)
class Query:
    """A query in the source's own language (SQL text with :named parameters for SQL sources).

    `derived` lists, in build order, the derived tables the text reads (as
    `DERIVED_SCHEMA.<name>`); only a source whose `can_derive` is true accepts them.
    """

    text: str
    params: Mapping[str, Any] = field(default_factory=dict)
    derived: tuple[Derived, ...] = ()

    def canonical(self) -> str:
        """Whitespace-normalised text plus sorted parameters: equal for equal queries."""
        text = " ".join(self.text.split())
        params = json.dumps(dict(self.params), sort_keys=True, default=_json_default)
        return f"{text}\n{params}"

    def key(self, scope: str = "") -> str:
        """sha256 of the canonical query and the caller's access scope."""
        return hashlib.sha256(f"{self.canonical()}\n{scope}".encode()).hexdigest()


# Where derived tables live, inside the source's own connection (an in-memory attached database
# on DuckDB). Query texts name a derived table as f"{DERIVED_SCHEMA}.{name}".
DERIVED_SCHEMA = "nexpo_derived"


class Fetcher(Protocol):
    """What the analytics library needs: a dialect name and a way to run a query."""

    name: str
    dialect: str

    def fetch(self, query: Query, *, refresh: bool = False) -> pd.DataFrame: ...


class DataSource(ABC):
    """An adapter: one kind of source (SQL, Mongo, PostHog...). `fetch` runs uncached."""

    kind: ClassVar[str]

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    @abstractmethod
    def dialect(self) -> str:
        """The query language: 'duckdb', 'postgresql', 'sqlite', 'mongo', 'hogql'..."""

    @abstractmethod
    def execute(self, query: Query, *, timeout: float | None = None) -> pd.DataFrame:
        """Run `query` in the source and return its rows; raise a DataSourceError on failure."""

    @abstractmethod
    def test_connection(self) -> None:
        """Run a no-op query; raise SourceUnavailableError when the source cannot answer."""

    @classmethod
    def enabled(cls) -> bool:
        """False when an optional driver is missing."""
        return True

    @property
    def can_derive(self) -> bool:
        """True when queries may carry `Query.derived` tables (see `SQLSource.can_derive`)."""
        return False

    def fetch(self, query: Query, *, refresh: bool = False) -> pd.DataFrame:
        return self.execute(query)

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release connections (default: nothing to release)."""
