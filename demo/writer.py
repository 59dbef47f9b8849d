"""Write generated frames to a warehouse: a DuckDB file (atomically replaced) or PostgreSQL (COPY + indexes)."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from demo.schema import PRIMARY_KEYS, TABLES, create_table_sql, dialect_of

# The indexes the metrics filter and join on (PostgreSQL; DuckDB relies on zone maps and sorted events).
INDEXES: dict[str, list[tuple[str, ...]]] = {
    "events": [("event", "timestamp"), ("person_id", "timestamp"), ("timestamp",)],
    "sessions": [("person_id", "start_ts"), ("start_ts",)],
    "users": [("customer_id",), ("distinct_id",)],
    "subscription_items": [("subscription_id",)],
    "subscriptions": [("customer_id",)],
    "invoices": [("customer_id",), ("subscription_id",)],
    "payments": [("created_at",), ("invoice_id",)],
}
# Covering columns of some of those indexes: the funnels and trends read person_id of the rows of
# (event, time range); with it in the index those reads are index-only scans (224k index entries
# instead of walking 2.5M heap rows for a 90-day funnel at --scale large).
INCLUDE: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {
    ("events", ("event", "timestamp")): ("person_id",),
}
META_TABLE = "warehouse_meta"
# DuckDB: the ART index behind events' primary key costs ~20 s and ~700 MB at 10M rows and no
# metric uses it; uuids are unique by construction (and tested), so the DuckDB file skips it.
NO_DUCKDB_KEY = frozenset({"events"})
_COPY_CHUNK = 500_000


class WarehouseTargetError(ValueError):
    """The target URL is not a warehouse this writer can build; `user_message` is safe to show."""

    def __init__(self, user_message: str):
        super().__init__(user_message)
        self.user_message = user_message


def check_target(url: str) -> str:
    """The dialect of `url` ("duckdb" or "postgresql"), or WarehouseTargetError naming what is accepted."""
    dialect = dialect_of(url)
    if dialect == "duckdb":
        if not url.startswith("duckdb:///") or url.removeprefix("duckdb:///") in ("", ":memory:"):
            raise WarehouseTargetError(
                "a DuckDB target must be a file: duckdb:////absolute/path/warehouse.duckdb"
            )
        return dialect
    if dialect == "postgresql":
        return dialect
    raise WarehouseTargetError(
        f"cannot write a warehouse to a {dialect!r} URL; use duckdb:///<file> or postgresql://…"
    )


def write_warehouse(
    url: str, frames: Mapping[str, pd.DataFrame], *, meta: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Replace the warehouse at `url` with `frames` (every table of TABLES; missing ones load empty).

    DuckDB: built in a temporary file beside the target, then renamed over it, so readers never see
    a half-written warehouse. PostgreSQL: one transaction of DROP/CREATE, COPY, primary keys,
    indexes; ANALYZE after commit. `meta` (e.g. scale, seed) goes to a `warehouse_meta(key, value)` table.

    Returns:
        Table name -> rows written.
    """
    dialect = check_target(url)
    if dialect == "duckdb":
        _write_duckdb(Path(url.removeprefix("duckdb:///")), frames, meta)
    else:
        _write_postgres(url, frames, meta)
    return {name: len(frames[name]) if name in frames else 0 for name in TABLES}


def _write_duckdb(
    target: Path, frames: Mapping[str, pd.DataFrame], meta: Mapping[str, str] | None
) -> None:
    import duckdb

    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con = duckdb.connect(str(temp))
        try:
            con.execute("SET TimeZone = 'UTC'")
            for table in TABLES:
                ddl = create_table_sql(table, "duckdb")
                if table in NO_DUCKDB_KEY:
                    ddl = ddl.replace(f', PRIMARY KEY ("{PRIMARY_KEYS[table]}")', "")
                con.execute(ddl)
                frame = _conformed(table, frames.get(table))
                if len(frame):
                    con.register("_frame", frame)
                    con.execute(f'INSERT INTO "{table}" SELECT * FROM _frame')
                    con.unregister("_frame")
            if meta:
                con.execute(f'CREATE TABLE "{META_TABLE}" (key VARCHAR PRIMARY KEY, value VARCHAR)')
                con.executemany(
                    f'INSERT INTO "{META_TABLE}" VALUES (?, ?)',
                    [(k, str(v)) for k, v in meta.items()],
                )
            con.execute("CHECKPOINT")
        finally:
            con.close()
        # A write-ahead log left by a crashed writer of the old file must not replay into the new one.
        Path(f"{target}.wal").unlink(missing_ok=True)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)


def _write_postgres(
    url: str, frames: Mapping[str, pd.DataFrame], meta: Mapping[str, str] | None
) -> None:
    from sqlalchemy import create_engine

    if url.startswith(
        "postgresql://"
    ):  # SQLAlchemy 2.1 would pick psycopg 3, which is not installed
        url = "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    engine = create_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("SET TIME ZONE 'UTC'")
            for table in TABLES:
                frame = _conformed(table, frames.get(table))
                cur.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
                cur.execute(create_table_sql(table, "postgresql"))
                if (
                    table in PRIMARY_KEYS
                ):  # add it back after the COPY: one index build, not 10M inserts
                    cur.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_pkey"')
                _copy(cur, table, frame)
                if table in PRIMARY_KEYS:
                    cur.execute(f'ALTER TABLE "{table}" ADD PRIMARY KEY ("{PRIMARY_KEYS[table]}")')
                for columns in INDEXES.get(table, []):
                    name = f"ix_{table}_{'_'.join(columns)}"
                    cols = ", ".join(f'"{c}"' for c in columns)
                    include = ", ".join(f'"{c}"' for c in INCLUDE.get((table, columns), ()))
                    cur.execute(
                        f'CREATE INDEX "{name}" ON "{table}" ({cols})'
                        + (f" INCLUDE ({include})" if include else "")
                    )
            cur.execute(f'DROP TABLE IF EXISTS "{META_TABLE}"')
            if meta:
                cur.execute(f'CREATE TABLE "{META_TABLE}" (key TEXT PRIMARY KEY, value TEXT)')
                cur.executemany(
                    f'INSERT INTO "{META_TABLE}" VALUES (%s, %s)',
                    [(k, str(v)) for k, v in meta.items()],
                )
            raw.commit()
            # VACUUM (ANALYZE) cannot run inside a transaction: switch psycopg2 itself to autocommit
            # (the pool proxy's attribute does not reach it). Without statistics the planner
            # misjudges the funnel and test-account joins by orders of magnitude.
            raw.driver_connection.autocommit = True
            with raw.driver_connection.cursor() as maintenance:
                maintenance.execute("VACUUM (ANALYZE)")
        finally:
            raw.close()
    finally:
        engine.dispose()


def _conformed(table: str, frame: pd.DataFrame | None) -> pd.DataFrame:
    """The frame with exactly the table's columns and types; generated frames pass through uncopied."""
    from demo.schema import _conform  # the loader's own column and type normalisation

    columns = [name for name, _ in TABLES[table]]
    if (
        frame is not None
        and list(frame.columns) == columns
        and all(
            isinstance(frame[name].dtype, pd.DatetimeTZDtype)
            for name, kind in TABLES[table]
            if kind == "ts"
        )
        and all(
            pd.api.types.is_string_dtype(frame[name].dtype)
            for name, kind in TABLES[table]
            if kind == "json"
        )
    ):
        return frame
    return _conform(table, frame)


def _copy(cur, table: str, frame: pd.DataFrame) -> None:  # noqa: ANN001 - a DB-API cursor
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    sql = f"COPY \"{table}\" ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
    for lo in range(0, len(frame), _COPY_CHUNK):
        buffer = io.StringIO()
        frame.iloc[lo : lo + _COPY_CHUNK].to_csv(
            buffer, index=False, header=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S.%f%z"
        )
        buffer.seek(0)
        cur.copy_expert(sql, buffer)
