"""GET /health and GET /health/datasources through a Flask test client."""

from __future__ import annotations

import pandas as pd
import pytest
from flask import Flask

from datasources import DataSources, QueryCache, RedisBackend, SQLSource
from monitoring import health


def client_for(sources: DataSources):
    server = Flask(__name__)
    health.init_app(server, lambda: sources, version="1.2.3")
    return server.test_client()


@pytest.fixture
def live_source(warehouse):
    source = SQLSource("warehouse", warehouse({"plans": pd.DataFrame({"id": [1]})}))
    yield source
    source.close()


def test_health_is_ok_json():
    response = client_for(DataSources([], QueryCache(None, ttl=0))).get("/health")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["version"] == "1.2.3"
    assert body["time"].endswith("+00:00")
    assert response.headers["Cache-Control"] == "no-store"


def test_default_version_comes_from_pyproject():
    assert health.project_version() == "0.1.0"


def test_datasources_all_up_is_ok(live_source):
    client = client_for(DataSources([live_source], QueryCache(None, ttl=0)))

    body = client.get("/health/datasources").get_json()

    assert body["status"] == "ok"
    assert [(s["name"], s["status"]) for s in body["datasources"]] == [("warehouse", "up")]


def test_datasources_reports_a_down_source_with_200(live_source, tmp_path):
    down = SQLSource("posthog", f"duckdb:///{tmp_path / 'missing.duckdb'}")
    client = client_for(DataSources([live_source, down], QueryCache(None, ttl=0)))

    response = client.get("/health/datasources")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    by_name = {s["name"]: s for s in body["datasources"]}
    assert by_name["warehouse"]["status"] == "up"
    assert by_name["posthog"]["status"] == "down"
    assert (
        by_name["posthog"]["error"]
        == "The data source is unreachable right now. Try again in a minute."
    )
    assert "missing.duckdb" not in response.get_data(as_text=True)


@pytest.mark.postgres
def test_datasources_reports_unreachable_postgres_down_with_200(pg_server):
    down = SQLSource("warehouse", "postgresql+psycopg2://postgres@127.0.0.1:1/test")
    client = client_for(DataSources([down], QueryCache(None, ttl=0)))

    response = client.get("/health/datasources")

    assert response.status_code == 200
    assert response.get_json()["datasources"][0]["status"] == "down"


def test_datasources_reports_a_down_cache_as_degraded(live_source):
    cache = QueryCache(RedisBackend("redis://127.0.0.1:1/0", connect_timeout=0.5), ttl=60)
    client = client_for(DataSources([live_source], cache))

    body = client.get("/health/datasources").get_json()

    assert body["status"] == "degraded"
    assert body["cache"] == {"backend": "redis", "status": "down"}
    assert body["datasources"][0]["status"] == "up"
