"""Building the app for tests: a demo warehouse generated once per session, an app per settings."""

from __future__ import annotations

from pathlib import Path

from settings import Settings


def test_settings(instance: Path, warehouse_url: str, **overrides: str) -> Settings:
    env = {"INSTANCE_PATH": str(instance), "WAREHOUSE_URL": warehouse_url, "LOG_LEVEL": "warning"}
    # No background scheduler thread in the shared test app: tests drive schedulers explicitly.
    env["SCHEDULER_ENABLED"] = "false"
    env.update({k.upper(): v for k, v in overrides.items()})
    return Settings.from_env(env)
