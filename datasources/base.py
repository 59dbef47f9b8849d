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
class Query:
    """A query in the source's own language (SQL text with :named parameters for SQL sources)."""

    text: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def canonical(self) -> str:
        """Whitespace-normalised text plus sorted parameters: equal for equal queries."""
        text = " ".join(self.text.split())
        params = json.dumps(dict(self.params), sort_keys=True, default=_json_default)
        return f"{text}\n{params}"

    def key(self, scope: str = "") -> str:
        """sha256 of the canonical query and the caller's access scope."""
        return hashlib.sha256(f"{self.canonical()}\n{scope}".encode()).hexdigest()


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

    def fetch(self, query: Query, *, refresh: bool = False) -> pd.DataFrame:
        return self.execute(query)

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release connections (default: nothing to release)."""
