"""`flask demo-data` on a bare Flask app with default settings."""

from __future__ import annotations

from pathlib import Path

import duckdb
import flask
import pytest

from demo.cli import register
from settings import Settings


@pytest.fixture
def app(tmp_path: Path) -> flask.Flask:
    server = flask.Flask("demo-cli-test")
    register(server, Settings.from_env({"INSTANCE_PATH": str(tmp_path)}))
    return server


def test_demo_data_writes_the_configured_duckdb_warehouse(app: flask.Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(args=["demo-data", "--scale", "tiny", "--seed", "3"])
    assert result.exit_code == 0, result.output
    target = tmp_path / "warehouse.duckdb"
    assert target.exists()
    con = duckdb.connect(str(target), read_only=True)
    try:
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        seed = con.execute("SELECT value FROM warehouse_meta WHERE key = 'seed'").fetchone()[0]
    finally:
        con.close()
    assert seed == "3"
    assert f"{events:,}" in result.output and "events" in result.output
    assert "written in" in result.output


def test_demo_data_writes_to_an_explicit_target(app: flask.Flask, tmp_path: Path) -> None:
    target = tmp_path / "other" / "wh.duckdb"
    result = app.test_cli_runner().invoke(
        args=["demo-data", "--scale", "tiny", "--target", f"duckdb:///{target}"]
    )
    assert result.exit_code == 0, result.output
    assert target.exists() and not (tmp_path / "warehouse.duckdb").exists()


def test_a_bad_target_scheme_is_one_line_and_exit_code_2(app: flask.Flask) -> None:
    result = app.test_cli_runner().invoke(args=["demo-data", "--target", "mysql://db/warehouse"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "mysql" in result.output and "duckdb" in result.output


def test_an_unreachable_postgresql_is_one_line_without_the_password(app: flask.Flask) -> None:
    url = "postgresql://postgres:s3cret@127.0.0.1:1/nowhere"
    result = app.test_cli_runner().invoke(args=["demo-data", "--scale", "tiny", "--target", url])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "s3cret" not in result.output
