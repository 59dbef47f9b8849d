"""`flask demo-data`: generate the demo warehouse and write it to DuckDB (default) or PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import click
import flask

from demo.generator import SCALES, generate
from demo.writer import WarehouseTargetError, check_target, write_warehouse


def register(server: flask.Flask, settings: Any) -> None:
    """Add the `demo-data` command to `server.cli`; the default target is `settings.warehouse_url`."""

    @server.cli.command("demo-data")
    @click.option("--scale", type=click.Choice(list(SCALES)), default="small", show_default=True,
                  help="small (~1,500 customers) for the app; large (~100k customers, ~10M events) for benchmarks")  # fmt: skip
    @click.option(
        "--seed", type=int, default=42, show_default=True, help="Random seed; same seed, same data"
    )
    @click.option("--target", default=None, metavar="SQLALCHEMY_URL",
                  help="duckdb:///<file> or postgresql://… (default: the configured warehouse)")  # fmt: skip
    def demo_data(scale: str, seed: int, target: str | None) -> None:
        """Generate the deterministic demo warehouse (two years up to yesterday) and write it."""
        url = target or settings.warehouse_url
        try:
            check_target(url)
        except WarehouseTargetError as exc:
            click.echo(f"Error: --target: {exc.user_message}", err=True)
            raise SystemExit(2) from None
        started = time.monotonic()
        frames = generate(scale, seed)
        generated = time.monotonic()
        try:
            counts = write_warehouse(url, frames, meta={"scale": scale, "seed": str(seed), "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - one line, never a DSN or a stack trace
            click.echo(
                f"Error: could not write the warehouse ({type(exc).__name__}: {_first_line(exc)})",
                err=True,
            )
            raise SystemExit(1) from None
        written = time.monotonic()
        click.echo(f"Wrote the {scale} demo warehouse (seed {seed}) to {_safe(url)}")
        for table, rows in counts.items():
            click.echo(f"  {table:<22}{rows:>12,}")
        click.echo(
            f"Generated in {generated - started:.1f}s, written in {written - generated:.1f}s."
        )


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [""])[0][:200]


def _safe(url: str) -> str:
    """The URL without a password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url.split("://", 1)[0] + "://…"
