"""Settings: the only module that reads the environment; every variable typed and validated once."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent
IMAGE_FORMATS = ("png", "svg", "jpg")
EXPORT_FORMATS = ("pdf", "excel", "csv", "json", "xml", "png", "svg", "jpg")


class SettingsError(ValueError):
    """A variable has a value the service cannot use; the message names it and what it accepts."""


def _int(minimum: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: expected an integer >= {minimum}") from None
        if value < minimum:
            raise SettingsError(f"{name}={raw!r}: expected an integer >= {minimum}")
        return value

    return parse


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name}={raw!r}: expected true or false")


def _str(name: str, raw: str) -> str:
    return raw.strip()


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value == "jpeg" and "jpg" in allowed:
            value = "jpg"
        if value not in allowed:
            raise SettingsError(f"{name}={raw!r}: expected one of {', '.join(allowed)}")
        return value

    return parse


def _choices(*allowed: str) -> Callable[[str, str], tuple[str, ...]]:
    def parse(name: str, raw: str) -> tuple[str, ...]:
        values = tuple(v.strip().lower() for v in raw.split(",") if v.strip())
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise SettingsError(
                f"{name}={raw!r}: expected a comma list of {', '.join(allowed)}"
                + (f" (unknown: {', '.join(bad)})" if bad else "")
            )
        return values

    return parse


def _csv(name: str, raw: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in raw.split(",") if v.strip())


def _timezone(name: str, raw: str) -> str:
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"{name}={raw!r}: expected an IANA time zone such as UTC or Europe/Berlin"
        ) from None
    return raw.strip()


def _url(*schemes: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        if value and value.split(":", 1)[0].split("+", 1)[0] not in schemes:
            raise SettingsError(
                f"{name}={raw!r}: expected a URL starting with {' or '.join(schemes)}"
            )
        return value

    return parse


def _port(name: str, raw: str) -> int:
    value = _int(1)(name, raw)
    if value > 65535:
        raise SettingsError(f"{name}={raw!r}: expected a port number 1-65535")
    return value


def _policy_file(name: str, raw: str) -> str:
    from security.access_table import PolicyFileError, load_policy_file

    value = raw.strip()
    if value:
        try:
            load_policy_file(value)
        except PolicyFileError as exc:
            raise SettingsError(str(exc)) from None
    return value


def _var(default: str, parse: Callable[[str, str], Any], doc: str) -> Any:
    return field(metadata={"default": default, "parse": parse, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """Every configuration variable; field names are the environment variable names in lower case."""

    # Deployment
    demo_mode: bool = _var("true", _bool, "Create demo users and use the demo warehouse")
    host: str = _var("127.0.0.1", _str, "Address `python app.py` listens on")
    port: int = _var("8050", _port, "Port `python app.py` listens on")
    instance_path: str = _var(
        "", _str, "Folder for SQLite, DuckDB, cache and export files (default: ./instance)"
    )
    database_url: str = _var(
        "", _url("sqlite", "postgresql"), "Metadata database (default: SQLite under instance/)"
    )
    warehouse_url: str = _var(
        "",
        _url("duckdb", "postgresql", "sqlite"),
        "Analytics warehouse (default: the demo DuckDB under instance/)",
    )
    redis_url: str = _var(
        "",
        _url("redis", "rediss"),
        "Redis for the query cache and workers; empty = embedded diskcache",
    )
    secret_key: str = _var("", _str, "Signs sessions; required outside demo mode")
    embed_secret: str = _var("", _str, "Signs embed tokens; required outside demo mode")
    log_level: str = _var("INFO", _choice("debug", "info", "warning", "error"), "Log level")
    # Reports (the seed's defaults)
    report_timezone: str = _var(
        "UTC", _timezone, "Time zone that days, weeks and months are cut in"
    )
    report_currency: str = _var("USD", _str, "Reporting currency (ISO 4217)")
    report_cache_ttl: int = _var("3600", _int(0), "Seconds a query result stays cached")
    report_max_rows: int = _var("100000", _int(1), "Most rows any report, widget or export returns")
    report_timeout_seconds: int = _var("300", _int(1), "Longest a report or export may run")
    report_concurrent_limit: int = _var("10", _int(1), "Most queries running at once")
    # Feature flags
    enable_real_time: bool = _var("true", _bool, "Auto-refresh of live dashboards")
    enable_caching: bool = _var("true", _bool, "Query result cache")
    enable_exports: bool = _var("true", _bool, "Export buttons and /api/export")
    enable_scheduling: bool = _var("true", _bool, "Scheduled reports")
    enable_embeds: bool = _var("true", _bool, "Signed embed URLs")
    enable_pii_masking: bool = _var("true", _bool, "Mask personal data per role")
    enable_audit_log: bool = _var("true", _bool, "Record the audit log")
    # Exports
    image_export_format: str = _var("png", _choice(*IMAGE_FORMATS), "Default image format")
    api_export_formats: tuple[str, ...] = _var(
        "pdf,excel,csv,json,xml,png,svg,jpg",
        _choices(*EXPORT_FORMATS),
        "Formats the export API offers",
    )
    # Delivery
    email_delivery_enabled: bool = _var("true", _bool, "Deliver scheduled reports by email")
    webhook_delivery_enabled: bool = _var("true", _bool, "Deliver scheduled reports to webhooks")
    storage_delivery_enabled: bool = _var(
        "true", _bool, "Deliver scheduled reports to file storage"
    )
    smtp_host: str = _var("127.0.0.1", _str, "SMTP server")
    smtp_port: int = _var("25", _port, "SMTP port")
    smtp_user: str = _var("", _str, "SMTP user (empty = no login)")
    smtp_password: str = _var("", _str, "SMTP password")
    smtp_use_tls: bool = _var("false", _bool, "STARTTLS to the SMTP server")
    smtp_from: str = _var("reports@nexpo.local", _str, "From address of report emails")
    email_max_attachment_mb: int = _var(
        "10", _int(0), "Largest total attachment size (MB); larger files are sent as links"
    )
    webhook_secret: str = _var(
        "", _str, "Default HMAC-SHA256 signing secret for webhooks that have none of their own"
    )
    storage_delivery_root: str = _var(
        "", _str, "Folder that storage recipients write under (default: instance/deliveries)"
    )
    public_base_url: str = _var(
        "",
        _url("http", "https"),
        "Base URL of this service in e-mailed links (default: http://HOST:PORT)",
    )
    # Scheduler
    scheduler_enabled: bool = _var(
        "true", _bool, "Run the scheduler in this process (with ENABLE_SCHEDULING)"
    )
    scheduler_tick_seconds: int = _var("15", _int(1), "How often the scheduler looks for due runs")
    scheduler_misfire_grace_seconds: int = _var(
        "21600", _int(0), "How late a missed run may still be sent after downtime (6 h)"
    )
    scheduler_executor: str = _var(
        "auto",
        _choice("auto", "threads", "celery"),
        "Where runs execute: threads in-process, or Celery on REDIS_URL (auto: Celery when REDIS_URL is set)",
    )
    # Embeds
    embed_allowed_origins: tuple[str, ...] = _var(
        "", _csv, "Origins that may frame embeds (frame-ancestors)"
    )
    # Behind a TLS-terminating proxy
    trust_proxy_headers: bool = _var(
        "false",
        _bool,
        "Trust one proxy's X-Forwarded-For/-Proto/-Host (client IP, HTTPS: HSTS, Secure cookies)",
    )
    # PostHog
    posthog_host: str = _var(
        "https://us.posthog.com", _url("http", "https"), "PostHog private API host"
    )
    posthog_api_key: str = _var("", _str, "PostHog personal API key (Query Read)")
    posthog_project_id: str = _var("", _str, "PostHog project id")
    # Looker Studio
    looker_studio_enabled: bool = _var("false", _bool, "Offer Looker Studio links")
    looker_studio_template_report_id: str = _var("", _str, "Looker Studio template report id")

    # Access control
    access_policy_file: str = _var(
        "",
        _policy_file,
        "YAML access table in the seed's access_control shape (roles it names replace the seed's)",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (default: the process environment); raise SettingsError on a bad value."""
        env = {**read_env_file(PROJECT_ROOT / ".env"), **os.environ} if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = f.name.upper()
            raw = env.get(name, f.metadata["default"])
            values[f.name] = f.metadata["parse"](name, raw)
        return cls(**values)._with_derived_defaults()

    def _with_derived_defaults(self) -> Settings:
        instance = Path(self.instance_path or PROJECT_ROOT / "instance").resolve()
        changes: dict[str, Any] = {"instance_path": str(instance)}
        if not self.database_url:
            changes["database_url"] = f"sqlite:///{instance / 'nexpo.db'}"
        if not self.warehouse_url:
            changes["warehouse_url"] = f"duckdb:///{instance / 'warehouse.duckdb'}"
        for key in ("secret_key", "embed_secret"):
            if not getattr(self, key):
                if not self.demo_mode:
                    raise SettingsError(
                        f"{key.upper()} is empty: set it to a long random string (required when DEMO_MODE=false)"
                    )
                changes[key] = _demo_secret(instance, key)
        return dataclasses.replace(self, **changes)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and CLI overrides)."""
        return dataclasses.replace(self, **changes)

    @property
    def instance(self) -> Path:
        return Path(self.instance_path)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments and blank lines skipped); the environment wins over it."""
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def _demo_secret(instance: Path, key: str) -> str:
    """A random secret kept under instance/, so demo sessions survive a restart."""
    path = instance / f".{key}"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    return value


def describe() -> list[tuple[str, str, str]]:
    """(VARIABLE, default, description) for every setting, for docs and .env.example."""
    return [
        (f.name.upper(), f.metadata["default"], f.metadata["doc"])
        for f in dataclasses.fields(Settings)
    ]
