"""Writing the demo warehouse to DuckDB (atomically) and to PostgreSQL (COPY, keys, indexes)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from demo.schema import TABLES
from demo.writer import INCLUDE, INDEXES, META_TABLE, WarehouseTargetError, write_warehouse


def _duckdb_counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in TABLES
        }
    finally:
        con.close()


def test_duckdb_warehouse_has_every_table_and_row(
    tmp_path: Path, tiny: dict[str, pd.DataFrame]
) -> None:
    target = tmp_path / "wh.duckdb"
    counts = write_warehouse(f"duckdb:///{target}", tiny, meta={"scale": "tiny", "seed": "7"})
    assert counts == {name: len(tiny[name]) for name in TABLES}
    assert _duckdb_counts(target) == counts
    con = duckdb.connect(str(target), read_only=True)
    try:
        assert dict(con.execute(f"SELECT key, value FROM {META_TABLE}").fetchall()) == {
            "scale": "tiny",
            "seed": "7",
        }
        first = con.execute("SELECT min(timestamp) FROM events").fetchone()[0]
        assert first.tzinfo is not None
        assert (
            con.execute(
                "SELECT count(*) FROM events WHERE json_extract_string(properties, '$.utm_source') IS NULL"
            ).fetchone()[0]
            == 0
        )
    finally:
        con.close()
    assert [p.name for p in tmp_path.iterdir()] == ["wh.duckdb"]  # no temp file or WAL left behind


def test_duckdb_rewrite_replaces_the_file_and_a_failed_write_keeps_the_old_one(
    tmp_path: Path, tiny: dict[str, pd.DataFrame]
) -> None:
    target = tmp_path / "wh.duckdb"
    url = f"duckdb:///{target}"
    write_warehouse(url, {"customers": tiny["customers"]})
    write_warehouse(url, tiny)
    assert _duckdb_counts(target)["events"] == len(tiny["events"])
    broken = dict(tiny, events=tiny["events"].assign(not_a_column=1))
    with pytest.raises(ValueError, match="not_a_column"):
        write_warehouse(url, broken)
    assert _duckdb_counts(target)["events"] == len(tiny["events"])
    assert [p.name for p in tmp_path.iterdir()] == ["wh.duckdb"]


@pytest.mark.parametrize(
    "url", ["mysql://db/x", "sqlite:///x.db", "duckdb:///", "duckdb:///:memory:"]
)
def test_targets_other_than_a_duckdb_file_or_postgresql_are_refused(
    url: str, tiny: dict[str, pd.DataFrame]
) -> None:
    with pytest.raises(WarehouseTargetError) as caught:
        write_warehouse(url, tiny)
    assert "duckdb" in caught.value.user_message


@pytest.mark.postgres
def test_postgresql_warehouse_matches_duckdb_and_has_the_metric_indexes(
    pg_database: str, tmp_path: Path, tiny: dict[str, pd.DataFrame]
) -> None:
    target = tmp_path / "wh.duckdb"
    write_warehouse(f"duckdb:///{target}", tiny)
    write_warehouse(pg_database, tiny, meta={"scale": "tiny"})
    engine = create_engine(pg_database)
    try:
        with engine.connect() as conn:
            counts = {
                name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                for name in TABLES
            }
            indexes = {}
            for row in conn.execute(
                text("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'")
            ):
                found = re.search(r"\(([^)]*)\)(?: INCLUDE \(([^)]*)\))?$", row.indexdef)
                assert found, row.indexdef
                key = (row.tablename, found.group(1).replace('"', ""))
                indexes[key] = (found.group(2) or "").replace('"', "")
            revenue = conn.execute(text("SELECT sum(amount_paid_minor) FROM invoices")).scalar_one()
            props = conn.execute(
                text("SELECT count(*) FROM events WHERE properties ? 'utm_source'")
            ).scalar_one()
            meta = conn.execute(
                text(f"SELECT value FROM {META_TABLE} WHERE key = 'scale'")
            ).scalar_one()
            # The planner has statistics: without them the funnel query ran 5x slower at scale.
            analysed = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename = 'events'"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert counts == _duckdb_counts(target)
    for table, index_list in INDEXES.items():
        for columns in index_list:
            assert (table, ", ".join(columns)) in indexes, (table, columns)
            covering = ", ".join(INCLUDE.get((table, columns), ()))
            assert indexes[(table, ", ".join(columns))] == covering, (table, columns)
    assert indexes[("events", "event, timestamp")] == "person_id"
    assert ("events", "uuid") in indexes  # the primary key, added after the COPY
    assert int(revenue) == int(tiny["invoices"]["amount_paid_minor"].sum())
    assert props == len(tiny["events"])
    assert meta == "tiny"
    assert analysed >= 5
