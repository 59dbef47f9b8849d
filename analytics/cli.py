"""`flask --app app metric NAME --source URL --param key=value ... --json`: any metric, for scripts."""

from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime
from typing import Any

import click
import pandas as pd
from flask import Flask

from analytics.catalog import MetricError, get_metric, list_metrics, parse_params, run_metric
from datasources.errors import DataSourceError
from datasources.sql import SQLSource
from settings import Settings


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: dates as ISO strings, NaN/NaT/None as null, numpy scalars as Python."""
    out = []
    for row in frame.itertuples(index=False):
        out.append({col: _plain(value) for col, value in zip(frame.columns, row, strict=True)})
    return out


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        return (
            value.date().isoformat()
            if value.time() == datetime.min.time() and value.tzinfo is None
            else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def register(server: Flask, settings: Settings) -> None:
    @server.cli.command("metric")
    @click.argument("name", required=False)
    @click.option(
        "--source",
        "source_url",
        default=None,
        help="SQLAlchemy URL of a database holding the METRICS.md D.1 tables (default: WAREHOUSE_URL)",
    )
    @click.option(
        "--param",
        "raw_params",
        multiple=True,
        metavar="KEY=VALUE",
        help="A metric parameter; repeat for several",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON array of records")
    @click.option(
        "--list", "list_all", is_flag=True, help="List every metric with its parameters and columns"
    )
    def metric_command(
        name: str | None,
        source_url: str | None,
        raw_params: tuple[str, ...],
        as_json: bool,
        list_all: bool,
    ) -> None:
        """Compute metric NAME inside the source database and print the result."""
        if list_all or not name:
            for spec in list_metrics():
                click.echo(
                    f"{spec.name:28} {spec.group:8} params: {', '.join(spec.params.model_fields)}  columns: {', '.join(spec.columns)}"
                )
                click.echo(f"{'':28} {spec.definition}")
            return
        params: dict[str, str] = {"timezone": settings.report_timezone}
        for item in raw_params:
            key, sep, value = item.partition("=")
            if not sep or not key:
                _fail(f"--param {item!r}: expected KEY=VALUE")
            params[key.strip()] = value.strip()
        try:
            spec = get_metric(name)
            if "timezone" not in spec.params.model_fields:
                params.pop("timezone")
            parsed = parse_params(spec, params)
        except MetricError as exc:
            _fail(str(exc))
        url = source_url or settings.warehouse_url
        if url.split(":", 1)[0].split("+", 1)[0] not in ("duckdb", "postgresql", "sqlite"):
            _fail(f"--source {url!r}: expected a duckdb://, postgresql:// or sqlite:// URL")
        source = SQLSource("cli", url, timeout=settings.report_timeout_seconds)
        try:
            frame = run_metric(name, source, parsed)
        except DataSourceError as exc:
            _fail(f"{exc.user_message} ({exc})")
        finally:
            source.close()
        if as_json:
            click.echo(json.dumps(records(frame), indent=None))
        else:
            click.echo(frame.to_string(index=False))
