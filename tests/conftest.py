"""Shared fixtures: real PostgreSQL and Redis on loopback, and warehouses built from hand-made rows."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from demo.schema import load_frames
from store import Store, init_store

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    if IN_CI:
        pytest.fail(message + ": CI must start it (.ci/run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL admin URL, after checking the server answers."""
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        _unavailable("PostgreSQL on 127.0.0.1:5432", exc)
    finally:
        engine.dispose()
    return PG_ADMIN_URL


@contextmanager
def _fresh_pg_database(server_url: str) -> Iterator[str]:
    name = f"nexpo_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with _fresh_pg_database(pg_server) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated metadata store, once on SQLite and once on the real PostgreSQL."""
    url = (
        f"sqlite:///{tmp_path / 'meta.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_database")
    )
    s = init_store(url)
    yield s
    s.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Redis database 15 on loopback, flushed before and after the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis on 127.0.0.1:6379", exc)
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


WarehouseFactory = Callable[[Mapping[str, pd.DataFrame]], str]


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> WarehouseFactory:
    """Build a warehouse from hand-made rows on DuckDB and on PostgreSQL; returns its SQLAlchemy URL.

    Tests that take this fixture run twice, once per engine, and must give identical results.
    """

    stack = ExitStack()
    request.addfinalizer(stack.close)

    def build(frames: Mapping[str, pd.DataFrame]) -> str:
        """Each call builds a separate warehouse (a new file, or a new PostgreSQL database)."""
        if request.param == "duckdb":
            url = f"duckdb:///{tmp_path / f'wh-{uuid.uuid4().hex[:8]}.duckdb'}"
        else:
            url = stack.enter_context(_fresh_pg_database(request.getfixturevalue("pg_server")))
        load_frames(url, frames)
        return url

    return build


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The small demo warehouse (DuckDB), generated once per test session."""
    from demo.generator import generate, write_warehouse

    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    url = f"duckdb:///{path}"
    write_warehouse(url, generate("small"))
    return url


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory, demo_warehouse: str):
    """The Dash app on a fresh SQLite metadata store and the demo warehouse (built once: pages are global)."""
    from app import create_app
    from tests.app_fixtures import test_settings

    return create_app(test_settings(tmp_path_factory.mktemp("instance"), demo_warehouse))


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def login(client):
    """Sign `client` in as a demo user through the real login form."""
    import re

    def sign_in(username: str = "analyst", password: str = "nexpo-demo"):
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        )

    return sign_in
