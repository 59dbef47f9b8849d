"""The warehouse tables of METRICS.md D.1, as portable DDL for DuckDB and PostgreSQL, and a loader."""

from __future__ import annotations

import io
from collections.abc import Mapping

import pandas as pd

# (column, generic type); generic types map to each dialect below.
TABLES: dict[str, list[tuple[str, str]]] = {
    "customers": [
        ("id", "id"),
        ("account_name", "text"),
        ("created_at", "ts"),
        ("country", "text"),
        ("plan_segment", "text"),
        ("is_test", "bool"),
    ],
    "users": [
        ("id", "id"),
        ("customer_id", "id"),
        ("distinct_id", "text"),
        ("email", "text"),
        ("created_at", "ts"),
        ("role", "text"),
    ],
    "plans": [
        ("id", "id"),
        ("name", "text"),
        ("amount_minor", "int"),
        ("currency", "text"),
        ("interval", "text"),
        ("interval_count", "int"),
        ("usage_type", "text"),
        ("is_free", "bool"),
    ],
    "subscriptions": [
        ("id", "id"),
        ("customer_id", "id"),
        ("status", "text"),
        ("started_at", "ts"),
        ("trial_start", "ts"),
        ("trial_end", "ts"),
        ("cancel_at_period_end", "bool"),
        ("canceled_at", "ts"),
        ("ended_at", "ts"),
        ("processor", "text"),
        ("processor_subscription_id", "text"),
    ],
    "subscription_items": [
        ("id", "id"),
        ("subscription_id", "id"),
        ("plan_id", "id"),
        ("quantity", "int"),
        ("valid_from", "ts"),
        ("valid_to", "ts"),
        ("discount_pct", "num"),
        ("discount_duration", "text"),
        ("discount_ends_at", "ts"),
    ],
    "invoices": [
        ("id", "id"),
        ("customer_id", "id"),
        ("subscription_id", "id"),
        ("processor", "text"),
        ("status", "text"),
        ("billing_reason", "text"),
        ("period_start", "ts"),
        ("period_end", "ts"),
        ("subtotal_minor", "int"),
        ("discount_minor", "int"),
        ("tax_minor", "int"),
        ("total_minor", "int"),
        ("amount_paid_minor", "int"),
        ("currency", "text"),
        ("created_at", "ts"),
        ("paid_at", "ts"),
    ],
    "payments": [
        ("id", "id"),
        ("invoice_id", "id"),
        ("processor", "text"),
        ("amount_minor", "int"),
        ("currency", "text"),
        ("status", "text"),
        ("created_at", "ts"),
        ("refunded_minor", "int"),
    ],
    "events": [
        ("uuid", "text"),
        ("event", "text"),
        ("timestamp", "ts"),
        ("distinct_id", "text"),
        ("person_id", "id"),
        ("session_id", "text"),
        ("properties", "json"),
    ],
    "sessions": [
        ("session_id", "text"),
        ("person_id", "id"),
        ("start_ts", "ts"),
        ("end_ts", "ts"),
        ("duration_s", "int"),
        ("pageview_count", "int"),
        ("is_bounce", "bool"),
        ("entry_url", "text"),
    ],
    "persons": [("id", "id"), ("created_at", "ts"), ("properties", "json")],
    # Beyond D.1: the department that owns each account (managers see their own), and KPI goals.
    "customer_departments": [("customer_id", "id"), ("department", "text")],
    "kpi_goals": [
        ("kpi", "text"),
        ("period_start", "date"),
        ("period_end", "date"),
        ("goal", "num"),
        ("department", "text"),
    ],
}

PRIMARY_KEYS = {
    "customers": "id",
    "users": "id",
    "plans": "id",
    "subscriptions": "id",
    "subscription_items": "id",
    "invoices": "id",
    "payments": "id",
    "events": "uuid",
    "sessions": "session_id",
    "persons": "id",
    "customer_departments": "customer_id",
}

_TYPES = {
    "duckdb": {
        "id": "BIGINT",
        "text": "VARCHAR",
        "ts": "TIMESTAMPTZ",
        "bool": "BOOLEAN",
        "int": "BIGINT",
        "num": "DOUBLE",
        "json": "JSON",
        "date": "DATE",
    },
    "postgresql": {
        "id": "BIGINT",
        "text": "TEXT",
        "ts": "TIMESTAMPTZ",
        "bool": "BOOLEAN",
        "int": "BIGINT",
        "num": "DOUBLE PRECISION",
        "json": "JSONB",
        "date": "DATE",
    },
}


def dialect_of(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def create_table_sql(table: str, dialect: str) -> str:
    types = _TYPES[dialect]
    cols = [f'"{name}" {types[kind]}' for name, kind in TABLES[table]]
    if table in PRIMARY_KEYS:
        cols.append(f'PRIMARY KEY ("{PRIMARY_KEYS[table]}")')
    return f'CREATE TABLE "{table}" ({", ".join(cols)})'


def load_frames(url: str, frames: Mapping[str, pd.DataFrame], *, replace: bool = True) -> None:
    """Create the tables in `frames` (all D.1 tables when replace) and load the rows, on DuckDB or PostgreSQL.

    Frames may omit columns (they load as NULL); every table of TABLES is created even when empty,
    so a metric over a small hand-made dataset finds all its input tables.
    """
    dialect = dialect_of(url)
    full = {name: _conform(name, frames.get(name)) for name in TABLES}
    if dialect == "duckdb":
        _load_duckdb(url, full, replace)
    elif dialect == "postgresql":
        _load_postgres(url, full, replace)
    else:
        raise ValueError(f"cannot load a warehouse into {dialect!r}; use duckdb or postgresql")


def _conform(table: str, frame: pd.DataFrame | None) -> pd.DataFrame:
    columns = [name for name, _ in TABLES[table]]
    frame = pd.DataFrame(columns=columns) if frame is None else frame.copy()
    unknown = set(frame.columns) - set(columns)
    if unknown:
        raise ValueError(f"table {table}: unknown column(s) {sorted(unknown)}")
    for name, kind in TABLES[table]:
        if name not in frame.columns:
            frame[name] = None
        if kind == "ts":
            frame[name] = pd.to_datetime(frame[name], utc=True)
        elif kind == "date":
            frame[name] = pd.to_datetime(frame[name]).dt.date
        elif kind == "json":
            import json

            frame[name] = [
                v if v is None or isinstance(v, str) else json.dumps(v) for v in frame[name]
            ]
    return frame[columns]


def _load_duckdb(url: str, frames: Mapping[str, pd.DataFrame], replace: bool) -> None:
    import duckdb

    path = url.removeprefix("duckdb:///") or ":memory:"
    con = duckdb.connect(path)
    try:
        con.execute("SET TimeZone = 'UTC'")
        for table, frame in frames.items():
            if replace:
                con.execute(f'DROP TABLE IF EXISTS "{table}"')
                con.execute(create_table_sql(table, "duckdb"))
            if len(frame):
                con.register("_frame", frame)
                con.execute(f'INSERT INTO "{table}" SELECT * FROM _frame')
                con.unregister("_frame")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _load_postgres(url: str, frames: Mapping[str, pd.DataFrame], replace: bool) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("SET TIME ZONE 'UTC'")
            for table, frame in frames.items():
                if replace:
                    cur.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
                    cur.execute(create_table_sql(table, "postgresql"))
                if len(frame):
                    buffer = io.StringIO()
                    frame.to_csv(
                        buffer,
                        index=False,
                        header=False,
                        na_rep="\\N",
                        date_format="%Y-%m-%d %H:%M:%S.%f%z",
                    )
                    buffer.seek(0)
                    cols = ", ".join(f'"{c}"' for c in frame.columns)
                    cur.copy_expert(
                        f"COPY \"{table}\" ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                        buffer,
                    )
            raw.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()
