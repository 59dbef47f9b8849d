"""The kind registry and the DataSources container built from settings."""

from __future__ import annotations

import pandas as pd
import pytest

from datasources import (
    DataSources,
    DiskCacheBackend,
    Query,
    QueryCache,
    RedisBackend,
    SourceConfig,
    SourceConfigError,
    SQLSource,
    UnknownSourceError,
    get_kind,
    kinds,
    register_kind,
    registry,
)
from settings import Settings

PLANS = pd.DataFrame({"id": [1, 2], "name": ["Free", "Pro"], "amount_minor": [0, 2900]})


def make_settings(tmp_path, **env: str) -> Settings:
    return Settings.from_env({"INSTANCE_PATH": str(tmp_path / "instance"), **env})


@pytest.fixture
def sources(warehouse, tmp_path):
    built = DataSources.from_settings(
        make_settings(tmp_path, WAREHOUSE_URL=warehouse({"plans": PLANS}))
    )
    yield built
    built.close()


def test_sql_kind_is_registered():
    assert get_kind("sql") is SQLSource
    assert "sql" in kinds()


def test_unknown_kind_is_a_config_error():
    with pytest.raises(SourceConfigError):
        get_kind("carrier-pigeon")


def test_registered_kind_can_be_configured(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))  # keep the global registry clean

    class Echo(SQLSource):
        kind = "echo"

    register_kind("echo", Echo)
    url = f"duckdb:///{tmp_path / 'e.duckdb'}"
    built = DataSources.from_configs(
        [SourceConfig("posthog", "echo", {"url": url, "read_only": False})], QueryCache(None, ttl=0)
    )

    assert isinstance(built.get("posthog"), Echo)
    built.close()


def test_duplicate_source_names_are_refused():
    with pytest.raises(SourceConfigError):
        DataSources(
            [SQLSource("a", "duckdb://"), SQLSource("a", "duckdb://")], QueryCache(None, ttl=0)
        )


def test_from_settings_configures_the_warehouse(sources):
    assert sources.names() == ["warehouse"]
    assert isinstance(sources.get("warehouse"), SQLSource)


def test_unknown_source_raises_unknown_source_error(sources):
    with pytest.raises(UnknownSourceError) as caught:
        sources.get("mongo")

    assert "mongo" not in caught.value.user_message


def test_cached_source_fetches_through_the_cache(sources):
    fetcher = sources.cached("warehouse", "role:admin")
    query = Query("SELECT name FROM plans WHERE amount_minor > :floor", {"floor": 0})

    first = fetcher.fetch(query)
    second = fetcher.fetch(query)

    assert first["name"].tolist() == second["name"].tolist() == ["Pro"]
    assert fetcher.dialect in ("duckdb", "postgresql")
    assert (sources.cache.stats.hits, sources.cache.stats.misses) == (1, 1)


def test_cache_backend_is_diskcache_under_instance_without_redis(tmp_path):
    settings = make_settings(tmp_path)
    built = DataSources.from_settings(settings)

    assert isinstance(built.cache.backend, DiskCacheBackend)
    assert built.cache.backend.directory == settings.instance / "cache"
    assert built.cache.ttl == 3600 and built.cache.timeout == 300
    built.close()


@pytest.mark.redis
def test_cache_backend_is_redis_when_redis_url_is_set(tmp_path, redis_url):
    built = DataSources.from_settings(make_settings(tmp_path, REDIS_URL=redis_url))

    assert isinstance(built.cache.backend, RedisBackend)
    assert built.cache.health() == {"backend": "redis", "status": "up"}
    built.close()


@pytest.mark.parametrize("env", [{"ENABLE_CACHING": "false"}, {"REPORT_CACHE_TTL": "0"}])
def test_caching_off_by_settings(tmp_path, env):
    built = DataSources.from_settings(make_settings(tmp_path, **env))

    assert not built.cache.enabled
    assert built.cache.health()["status"] == "disabled"
    built.close()


def test_health_reports_a_live_source_up(sources):
    (report,) = sources.health()

    assert report["name"] == "warehouse" and report["kind"] == "sql"
    assert report["dialect"] in ("duckdb", "postgresql")
    assert report["status"] == "up" and report["error"] is None
    assert report["latency_ms"] >= 0


@pytest.mark.postgres
def test_health_reports_an_unreachable_source_down_without_raising(pg_server):
    bad_url = "postgresql+psycopg2://postgres:secret@127.0.0.1:1/test"
    built = DataSources([SQLSource("warehouse", bad_url)], QueryCache(None, ttl=0))

    (report,) = built.health()

    assert report["status"] == "down"
    assert report["dialect"] == "postgresql"
    assert (
        report["error"] and "secret" not in report["error"] and "127.0.0.1" not in report["error"]
    )
    built.close()
