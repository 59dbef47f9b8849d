"""SQL adapter through SQLAlchemy: DuckDB (duckdb-engine), SQLite and PostgreSQL (psycopg2)."""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from datasources.base import DERIVED_SCHEMA, DataSource, Derived, Query
from datasources.errors import (
    QueryError,
    QueryTimeoutError,
    SourceConfigError,
    SourceUnavailableError,
)

log = logging.getLogger(__name__)

# Driver messages that mean "the source cannot be reached", not "this query is wrong".
_CONNECTION_FAILURES = (
    "could not connect",
    "connection refused",
    "connection to server",
    "server closed",
    "timeout expired",
    "unable to open",
    "no such file",
    "io error",
    "could not set lock",
)
_DERIVED_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Builds of derived tables, serialised process-wide: every SQLSource on one file shares DuckDB's
# open instance (and so its derived tables), and two concurrent CREATEs of one table conflict.
_DERIVE_LOCK = threading.Lock()
# Two concurrent `ATTACH IF NOT EXISTS` of one name race in DuckDB ("already exists").
_ATTACH_LOCK = threading.Lock()


class SQLSource(DataSource):
    """Any SQLAlchemy URL. DuckDB files open read-only, so several processes may read one warehouse.

    Timeouts: PostgreSQL gets a per-transaction `statement_timeout`; DuckDB and SQLite are
    interrupted from a timer thread.
    """

    kind = "sql"

    def __init__(
        self, name: str, url: str, *, read_only: bool = True, timeout: float | None = None
    ):
        super().__init__(name)
        self.url = url
        self.default_timeout = timeout
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._read_only = read_only

    @property
    def dialect(self) -> str:
        return self.url.split(":", 1)[0].split("+", 1)[0]

    @property
    def can_derive(self) -> bool:
        """True for a DuckDB file opened read-only: derived tables can be kept without a refresh rule.

        While any connection of this process has the file open read-only, DuckDB holds a shared
        lock on it, so no writer can change its tables. Derived tables live in an in-memory
        database attached to that same open instance and vanish with it, so a derived table never
        outlives the data it was built from. PostgreSQL (tables change under any reader), SQLite
        and writable DuckDB return False; the analytics library inlines the same SQL for them.
        """
        if self.dialect != "duckdb" or not self._read_only:
            return False
        path = self.url.removeprefix("duckdb:///").split("?", 1)[0]
        return bool(path) and path != ":memory:"

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def _create_engine(self) -> Engine:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.dialect == "duckdb":
            path = self.url.removeprefix("duckdb:///")
            if path and path != ":memory:" and self._read_only:
                kwargs["connect_args"] = {"read_only": True}
        elif self.dialect == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": 5, "application_name": "nexpo-reports"}
        try:
            return create_engine(self.url, **kwargs)
        except (SQLAlchemyError, ValueError, ImportError) as exc:
            raise SourceConfigError(str(exc), source=self.name) from None

    def execute(self, query: Query, *, timeout: float | None = None) -> pd.DataFrame:
        """Run `query` and return its rows.

        Args:
            query: SQL text with :named parameters, and their values.
            timeout: seconds before the statement is cancelled (default: the source's own).

        Returns:
            The rows, with the result's column names.

        Raises:
            QueryTimeoutError, SourceUnavailableError, QueryError.
        """
        if query.derived and not self.can_derive:
            raise QueryError(
                "derived tables are kept only on a DuckDB file opened read-only", source=self.name
            )
        timeout = timeout or self.default_timeout
        started = time.monotonic()
        timed_out = threading.Event()
        try:
            with self.engine.connect() as connection:
                timer = self._arm_timeout(connection, timeout, timed_out)
                try:
                    if self.dialect == "duckdb":
                        frame = self._execute_duckdb(connection, query)
                    else:
                        result = connection.execute(text(query.text), dict(query.params))
                        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
                finally:
                    if timer is not None:
                        timer.cancel()
                if timed_out.is_set():
                    # The interrupt may have landed after the query ended: never reuse that connection.
                    connection.invalidate()
        except SQLAlchemyError as exc:
            raise self._translate(exc, timed_out, time.monotonic() - started) from None
        except Exception as exc:  # a driver error SQLAlchemy did not wrap
            if type(exc).__module__.lstrip("_").startswith("duckdb"):
                raise self._translate(exc, timed_out, time.monotonic() - started) from None
            raise
        return frame

    def _execute_duckdb(self, connection: Connection, query: Query) -> pd.DataFrame:
        """Run `query` on DuckDB's own cursor: the same rows, ~2 ms less per query than Row objects.

        The statement is compiled by SQLAlchemy (same bind-parameter parsing as `text()`), then
        executed with positional parameters on the driver connection.
        """
        sql, names = _duckdb_statement(query.text, self.engine.dialect)
        missing = [name for name in names if name not in query.params]
        if missing:
            raise QueryError(f"no value for bind parameter {missing[0]!r}", source=self.name)
        cursor = connection.connection.driver_connection.cursor()
        try:
            if query.derived:
                self._ensure_derived(cursor, query.derived)
            cursor.execute(sql, [query.params[name] for name in names])
            columns = [item[0] for item in cursor.description or ()]
            return pd.DataFrame(cursor.fetchall(), columns=columns)
        finally:
            cursor.close()

    def _ensure_derived(self, cursor: Any, derived: tuple[Derived, ...]) -> None:
        """Build, in order, the derived tables of `derived` this open instance does not hold yet.

        The check costs ~0.4 ms. Builds are serialised (`_DERIVE_LOCK`), so concurrent first
        queries build each table once; `CREATE TABLE ... AS` commits whole, so a reader never sees half.
        """
        for item in derived:
            if not _DERIVED_NAME.match(item.name):
                raise QueryError(f"invalid derived table name {item.name!r}", source=self.name)
        with _ATTACH_LOCK:
            cursor.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {DERIVED_SCHEMA} (READ_WRITE)")

        def missing() -> list[Derived]:
            cursor.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [DERIVED_SCHEMA]
            )
            present = {row[0] for row in cursor.fetchall()}
            return [item for item in derived if item.name not in present]

        if not missing():
            return
        with _DERIVE_LOCK:
            for item in missing():
                sql, names = _duckdb_statement(item.sql, self.engine.dialect)
                absent = [name for name in names if name not in item.params]
                if absent:
                    raise QueryError(
                        f"no value for bind parameter {absent[0]!r} of derived table {item.name}",
                        source=self.name,
                    )
                started = time.monotonic()
                cursor.execute(
                    f"CREATE TABLE {DERIVED_SCHEMA}.{item.name} AS {sql}",
                    [item.params[name] for name in names],
                )
                log.info(
                    "built derived table %s.%s in %.0f ms",
                    self.name,
                    item.name,
                    (time.monotonic() - started) * 1000,
                )

    def _arm_timeout(
        self, connection: Connection, timeout: float | None, timed_out: threading.Event
    ) -> threading.Timer | None:
        if not timeout:
            return None
        if self.dialect == "postgresql":
            # SET LOCAL ends with the transaction, so the pooled connection does not keep it.
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
            return None
        raw = connection.connection.dbapi_connection
        interrupt = getattr(raw, "interrupt", None)
        if interrupt is None:
            return None

        def fire() -> None:
            timed_out.set()
            interrupt()

        timer = threading.Timer(timeout, fire)
        timer.daemon = True
        timer.start()
        return timer

    def _translate(
        self, exc: BaseException, timed_out: threading.Event, elapsed: float
    ) -> Exception:
        message = str(exc).lower()
        if timed_out.is_set() or "statement timeout" in message or "canceling statement" in message:
            return QueryTimeoutError(f"timed out after {elapsed:.1f}s", source=self.name)
        if (isinstance(exc, OperationalError) or not isinstance(exc, SQLAlchemyError)) and any(
            part in message for part in _CONNECTION_FAILURES
        ):
            return SourceUnavailableError(_first_line(exc), source=self.name)
        return QueryError(_first_line(exc), source=self.name)

    def test_connection(self) -> None:
        self.execute(Query("SELECT 1"))

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


@functools.lru_cache(maxsize=512)
def _duckdb_statement(sql: str, dialect: Any) -> tuple[str, tuple[str, ...]]:
    """`sql` with :name binds compiled for DuckDB ($1, $2, ...), and the bind names in order."""
    compiled = text(sql).compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup or ())


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0][:500]
