"""SQLSource contract on DuckDB and PostgreSQL: rows, typed errors with safe messages, timeouts."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from datasources import (
    Query,
    QueryError,
    QueryTimeoutError,
    SourceUnavailableError,
    SQLSource,
)
from datasources.base import DERIVED_SCHEMA, Derived

PLANS = pd.DataFrame(
    {
        "id": [1, 2, 3],
        "name": ["Free", "Pro", "Team"],
        "amount_minor": [0, 2900, 9900],
        "currency": ["USD", "USD", "USD"],
        "interval": ["month", "month", "year"],
        "interval_count": [1, 1, 1],
        "is_free": [True, False, False],
    }
)


@pytest.fixture
def source(warehouse):
    built = SQLSource("warehouse", warehouse({"plans": PLANS}))
    yield built
    built.close()


def test_fetch_returns_rows_and_columns(source):
    frame = source.fetch(Query("SELECT id, name, amount_minor FROM plans ORDER BY id"))

    assert list(frame.columns) == ["id", "name", "amount_minor"]
    assert frame["name"].tolist() == ["Free", "Pro", "Team"]
    assert frame["amount_minor"].tolist() == [0, 2900, 9900]


def test_parameters_bind(source):
    query = Query(
        "SELECT name FROM plans WHERE amount_minor > :floor AND currency = :cur ORDER BY id",
        {"floor": 1000, "cur": "USD"},
    )

    assert source.execute(query)["name"].tolist() == ["Pro", "Team"]


def test_parameter_is_bound_not_spliced(source):
    query = Query("SELECT count(*) AS n FROM plans WHERE name = :name", {"name": "x' OR '1'='1"})

    assert source.execute(query)["n"].tolist() == [0]


def test_empty_result_keeps_columns(source):
    frame = source.execute(Query("SELECT id, name FROM plans WHERE id < 0"))

    assert frame.empty
    assert list(frame.columns) == ["id", "name"]


@pytest.mark.parametrize(
    "sql", ["SELEC id FROM plans", "SELECT missing_column FROM plans", "SELECT * FROM no_table"]
)
def test_bad_sql_raises_query_error_with_safe_message(source, sql):
    with pytest.raises(QueryError) as caught:
        source.execute(Query(sql))

    message = caught.value.user_message
    assert message == QueryError.user_message
    assert "SELEC" not in message.upper() and "plans" not in message
    assert source.url not in message and "postgres" not in message.lower()
    assert caught.value.source == "warehouse"


def test_test_connection_passes_on_a_live_source(source):
    source.test_connection()


@pytest.mark.postgres
def test_unreachable_postgres_raises_source_unavailable(pg_server):
    source = SQLSource("warehouse", "postgresql+psycopg2://postgres@127.0.0.1:1/test")

    with pytest.raises(SourceUnavailableError) as caught:
        source.execute(Query("SELECT 1"))

    assert "127.0.0.1" not in caught.value.user_message
    assert ":1" not in caught.value.user_message


def test_missing_duckdb_file_raises_source_unavailable(tmp_path):
    source = SQLSource("warehouse", f"duckdb:///{tmp_path / 'absent.duckdb'}")

    with pytest.raises(SourceUnavailableError):
        source.test_connection()


@pytest.mark.postgres
def test_postgres_statement_timeout_raises_query_timeout(pg_database):
    source = SQLSource("warehouse", pg_database)

    with pytest.raises(QueryTimeoutError) as caught:
        source.execute(Query("SELECT pg_sleep(5)"), timeout=1)

    assert "pg_sleep" not in caught.value.user_message
    source.close()


@pytest.mark.postgres
def test_postgres_timeout_does_not_stick_to_the_pooled_connection(pg_database):
    source = SQLSource("warehouse", pg_database)
    source.execute(Query("SELECT 1"), timeout=1)

    # Same pooled connection, no timeout asked: the server default (0 = none) must be back.
    setting = source.execute(Query("SELECT current_setting('statement_timeout') AS t"))

    assert setting["t"].tolist() == ["0"]
    source.close()


def test_duckdb_long_query_is_interrupted_at_timeout(tmp_path):
    source = SQLSource("warehouse", f"duckdb:///{tmp_path / 'wh.duckdb'}", read_only=False)
    slow = Query("SELECT sum(hash(range)) AS s FROM range(1000000000000)")

    with pytest.raises(QueryTimeoutError):
        source.execute(slow, timeout=0.5)

    # The connection pool still answers afterwards.
    assert source.execute(Query("SELECT 42 AS x"))["x"].tolist() == [42]
    source.close()


# Derived tables: kept only on a read-only DuckDB file (its data cannot change while it is open).


def _plans_file(tmp_path) -> str:
    from demo.schema import load_frames

    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    load_frames(url, {"plans": PLANS})
    return url


def _doubled() -> Derived:
    # The cross join to a 20M-row count makes the build take a while, so first queries overlap.
    sql = """SELECT id, amount_minor * :factor AS amount
FROM plans CROSS JOIN (SELECT COUNT(*) AS n FROM range(20000000)) AS slow"""
    return Derived(Derived.name_for("doubled", sql, {"factor": 2}), sql, {"factor": 2})


def test_concurrent_first_queries_build_a_derived_table_once(tmp_path, caplog):
    # Two sources on one file share DuckDB's open instance, so they share its derived tables.
    url = _plans_file(tmp_path)
    sources = [SQLSource("warehouse", url), SQLSource("warehouse", url)]
    table = _doubled()
    query = Query(f"SELECT SUM(amount) AS s FROM {DERIVED_SCHEMA}.{table.name}", derived=(table,))
    caplog.set_level(logging.INFO, logger="datasources.sql")

    with ThreadPoolExecutor(max_workers=6) as pool:
        sums = list(pool.map(lambda i: sources[i % 2].execute(query)["s"].iloc[0], range(12)))

    assert sums == [2 * (2900 + 9900)] * 12
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == [
        f"built derived table warehouse.{table.name}"
    ]
    for source in sources:
        source.close()


def test_first_queries_released_together_on_fresh_files_all_succeed(tmp_path):
    # DuckDB fails one of two concurrent ATTACH IF NOT EXISTS of a name ("already exists"): a
    # dashboard's first load sends ten queries at once. A hundred fresh files, eight at once each.
    table = Derived("doubled", "SELECT id, amount_minor * 2 AS amount FROM plans")
    query = Query(f"SELECT SUM(amount) AS s FROM {DERIVED_SCHEMA}.{table.name}", derived=(table,))
    for trial in range(100):
        (tmp_path / str(trial)).mkdir()
        source = SQLSource("warehouse", _plans_file(tmp_path / str(trial)))
        start = threading.Barrier(8)

        def first(_: int, source: SQLSource = source, start: threading.Barrier = start) -> int:
            start.wait()
            return int(source.execute(query)["s"].iloc[0])

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(first, range(8))) == [2 * (2900 + 9900)] * 8, trial
        source.close()


@pytest.mark.parametrize(
    "kind", ["writable duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_source_whose_data_can_change_refuses_derived_tables(tmp_path, request, kind):
    if kind == "postgresql":
        source = SQLSource("warehouse", request.getfixturevalue("pg_database"))
    else:
        source = SQLSource("warehouse", _plans_file(tmp_path), read_only=False)
    table = _doubled()

    assert source.can_derive is False
    with pytest.raises(QueryError, match="only on a DuckDB file opened read-only"):
        source.execute(Query(f"SELECT * FROM {DERIVED_SCHEMA}.{table.name}", derived=(table,)))
    source.close()


def test_derived_table_with_a_bad_name_or_missing_bind_is_a_query_error(tmp_path):
    source = SQLSource("warehouse", _plans_file(tmp_path))
    bad_name = Derived("x; DROP TABLE plans", "SELECT 1")
    with pytest.raises(QueryError, match="invalid derived table name"):
        source.execute(Query("SELECT 1", derived=(bad_name,)))
    unbound = Derived("unbound", "SELECT :missing AS v")
    with pytest.raises(QueryError, match="'missing' of derived table unbound"):
        source.execute(Query("SELECT 1", derived=(unbound,)))
    assert source.execute(Query("SELECT COUNT(*) AS n FROM plans"))["n"].tolist() == [3]
    source.close()
