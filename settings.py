"""Settings: the only module that reads the environment; every variable typed and validated once."""

from __future__ import annotations

import contextlib
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
DATA_FORMATS = ("json", "xml", "csv")  # the formats API_EXPORT_FORMATS governs (the seed's list)

# Variables of earlier versions: setting one stops start-up with the seed's name to use instead.
RENAMED = {
    "ENABLE_REAL_TIME": "ENABLE_REAL_TIME_REPORTS",
    "ENABLE_EXPORTS": "ENABLE_PDF_EXPORT, ENABLE_EXCEL_EXPORT and API_EXPORT_FORMATS",
    "ENABLE_SCHEDULING": "ENABLE_SCHEDULED_REPORTS",
    "ENABLE_EMBEDS": "REPORT_PORTAL_ENABLED",
    "STORAGE_DELIVERY_ENABLED": "FILE_STORAGE_ENABLED",
    "LOOKER_STUDIO_ENABLED": "ENABLE_LOOKER_STUDIO",
    "LOOKER_STUDIO_TEMPLATE_REPORT_ID": "LOOKER_STUDIO_PROJECT_ID and LOOKER_STUDIO_DATASET_ID",
}


@dataclass(frozen=True)
class Feature:
    """A feature an operator can turn off: its name in messages and the flags that must all be true."""

    label: str
    flags: tuple[str, ...]


# Every switchable feature, by key; UI, API (api/flags.py), exports and delivery all ask these.
FEATURES: dict[str, Feature] = {
    "posthog_analytics": Feature("PostHog analytics", ("enable_posthog_analytics",)),
    "looker_studio": Feature("Looker Studio", ("enable_looker_studio",)),
    "pdf_export": Feature("PDF export", ("enable_pdf_export",)),
    "excel_export": Feature("Excel export", ("enable_excel_export", "excel_export_enabled")),
    "scheduled_reports": Feature("Scheduled reports", ("enable_scheduled_reports",)),
    "real_time_reports": Feature("Real-time reports", ("enable_real_time_reports",)),
    "custom_reports": Feature("Custom reports", ("enable_custom_reports",)),
    "dashboard_builder": Feature("The dashboard builder", ("enable_dashboard_builder",)),
    "email_delivery": Feature("Email delivery", ("email_delivery_enabled",)),
    "webhook_delivery": Feature("Webhook delivery", ("webhook_delivery_enabled",)),
    "file_storage": Feature("File storage delivery", ("file_storage_enabled",)),
    "report_portal": Feature("The report portal", ("report_portal_enabled",)),
}
# Delivery channel -> the feature that governs it.
CHANNEL_FEATURES = {
    "email": "email_delivery",
    "webhook": "webhook_delivery",
    "storage": "file_storage",
    "portal": "report_portal",
}


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


def _data_formats(name: str, raw: str) -> tuple[str, ...]:
    values = tuple(v.strip().lower() for v in raw.split(",") if v.strip())
    for value in values:
        if value in ("pdf", "excel", "xlsx"):
            flag = "ENABLE_PDF_EXPORT" if value == "pdf" else "ENABLE_EXCEL_EXPORT"
            raise SettingsError(
                f"{name}={raw!r}: {value} is turned on and off by {flag}; list only json, xml, csv"
            )
        if value in IMAGE_FORMATS:
            raise SettingsError(
                f"{name}={raw!r}: images are always offered (IMAGE_EXPORT_FORMAT picks the default); "
                "list only json, xml, csv"
            )
    bad = [v for v in values if v not in DATA_FORMATS]
    if bad:
        raise SettingsError(
            f"{name}={raw!r}: expected a comma list of json, xml, csv (unknown: {', '.join(bad)})"
        )
    return values


def _csv(name: str, raw: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in raw.split(",") if v.strip())


def _hosts_or_networks(name: str, raw: str) -> tuple[str, ...]:
    import ipaddress
    import re

    label = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
    values = []
    for entry in (v.strip().lower() for v in raw.split(",") if v.strip()):
        value = entry.strip("[]")
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            value = value.rstrip(".")
            if not value or not all(label.match(part) for part in value.split(".")):
                raise SettingsError(
                    f"{name}={raw!r}: {entry!r} is neither a host name nor an IP address or "
                    "network (such as hooks.internal, 10.0.0.5 or 10.0.0.0/8)"
                ) from None
        values.append(value)
    return tuple(values)


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
    max_content_length: int = _var(
        "1048576", _int(1024), "Largest request body in bytes; a larger one is refused with 413"
    )
    # Reports (the seed's defaults)
    report_timezone: str = _var(
        "UTC", _timezone, "Time zone that days, weeks and months are cut in"
    )
    report_currency: str = _var("USD", _str, "Reporting currency (ISO 4217)")
    report_cache_ttl: int = _var("3600", _int(0), "Seconds a query result stays cached")
    report_max_rows: int = _var("100000", _int(1), "Most rows any report, widget or export returns")
    report_timeout_seconds: int = _var("300", _int(1), "Longest a report or export may run")
    report_concurrent_limit: int = _var("10", _int(1), "Most queries running at once")
    # Feature flags (the seed's names and defaults; README "Feature flags" says what each governs)
    enable_posthog_analytics: bool = _var(
        "true", _bool, "Usage analytics to PostHog (reserved: the service sends none yet)"
    )
    enable_looker_studio: bool = _var(
        "true", _bool, "Looker Studio integration (reserved: none is built yet)"
    )
    enable_pdf_export: bool = _var(
        "true", _bool, "PDF export: menus, /api/export/pdf, scheduled PDFs"
    )
    enable_excel_export: bool = _var(
        "true", _bool, "Excel export: menus, /api/export/excel, scheduled workbooks"
    )
    enable_scheduled_reports: bool = _var(
        "true", _bool, "Scheduled reports: /schedules, /api/schedules, the scheduler"
    )
    enable_real_time_reports: bool = _var("true", _bool, "Auto-refresh of live dashboards")
    enable_custom_reports: bool = _var(
        "true",
        _bool,
        "Saving custom reports and templates (API writes, the Templates page's create)",
    )
    enable_dashboard_builder: bool = _var(
        "true",
        _bool,
        "The dashboard builder: /builder, /dashboards/<id>/edit, API dashboard writes",
    )
    # Feature flags of this service (the seed has none for these)
    enable_caching: bool = _var("true", _bool, "Query result cache")
    enable_pii_masking: bool = _var("true", _bool, "Mask personal data per role")
    enable_audit_log: bool = _var("true", _bool, "Record the audit log")
    # Exports
    pdf_generator_url: str = _var(
        "",
        _url("http", "https"),
        "Gotenberg-style PDF service (e.g. http://pdf-service:3000); empty = in-process Chromium",
    )
    excel_export_enabled: bool = _var(
        "true", _bool, "Excel export (both this and ENABLE_EXCEL_EXPORT must be true)"
    )
    image_export_format: str = _var(
        "png",
        _choice(*IMAGE_FORMATS),
        "Image format of `image` exports (png, svg and jpg stay offered)",
    )
    api_export_formats: tuple[str, ...] = _var(
        "json,xml,csv",
        _data_formats,
        "Data formats offered (json, xml, csv); PDF and Excel follow their own flags",
    )
    # Delivery
    email_delivery_enabled: bool = _var("true", _bool, "Deliver scheduled reports by email")
    webhook_delivery_enabled: bool = _var("true", _bool, "Deliver scheduled reports to webhooks")
    file_storage_enabled: bool = _var(
        "true", _bool, "Deliver scheduled reports to file storage (local folder or S3)"
    )
    report_portal_enabled: bool = _var(
        "true",
        _bool,
        "Self-service portal: report history, run-file links, signed embeds",
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
    webhook_allowed_hosts: tuple[str, ...] = _var(
        "",
        _hosts_or_networks,
        "Hosts and IPs/networks webhooks may reach although internal (loopback, private, "
        "link-local...), e.g. hooks.internal,10.0.0.0/8; anyone who may schedule can then reach "
        "every port of them",
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
        "true", _bool, "Run the scheduler in this process (with ENABLE_SCHEDULED_REPORTS)"
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
    # PostHog (the seed's names; POSTHOG_HOST defaults to the seed's https://app.posthog.com)
    posthog_api_key: str = _var("", _str, "PostHog personal API key (Query Read)")
    posthog_project_id: str = _var("", _str, "PostHog project id")
    posthog_host: str = _var("https://app.posthog.com", _url("http", "https"), "PostHog API host")
    # Looker Studio (the seed's names; read by nothing yet, see ENABLE_LOOKER_STUDIO)
    looker_studio_api_key: str = _var("", _str, "Looker Studio API key")
    looker_studio_project_id: str = _var("", _str, "Google Cloud project of the Looker Studio data")
    looker_studio_dataset_id: str = _var("", _str, "BigQuery dataset Looker Studio reads")
    looker_studio_service_account: str = _var("", _str, "Path to the service-account JSON key file")

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
        for old, new in RENAMED.items():
            if old in env:
                raise SettingsError(f"{old} is no longer read: use {new} instead")
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

    def enabled(self, feature: str) -> bool:
        """Whether `feature` (a key of FEATURES) is on: all its flags are true."""
        return all(getattr(self, flag) for flag in FEATURES[feature].flags)

    def off_message(self, feature: str) -> str | None:
        """None when `feature` is on, else the sentence naming the variable that turned it off."""
        off = [flag.upper() for flag in FEATURES[feature].flags if not getattr(self, flag)]
        if not off:
            return None
        names = " and ".join(f"{name}=false" for name in off)
        return f"{FEATURES[feature].label} is turned off ({names})."

    def format_off(self, fmt: str) -> str | None:
        """None when export format `fmt` (pdf, excel, csv, json, xml, png, svg, jpg) is offered,
        else the sentence naming the variable: PDF and Excel follow their ENABLE_* flags, the data
        formats API_EXPORT_FORMATS, and images are always offered."""
        if fmt == "pdf":
            return self.off_message("pdf_export")
        if fmt == "excel":
            return self.off_message("excel_export")
        if fmt in DATA_FORMATS and fmt not in self.api_export_formats:
            listed = ",".join(self.api_export_formats) or "(empty)"
            return f"{fmt.upper()} export is turned off (API_EXPORT_FORMATS={listed})."
        return None

    @property
    def export_formats(self) -> tuple[str, ...]:
        """The export formats this deployment offers, in EXPORT_FORMATS order."""
        return tuple(f for f in EXPORT_FORMATS if self.format_off(f) is None)


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
    """A random secret kept under instance/, so demo sessions survive a restart.

    Processes starting together (gunicorn workers) must all end up with the same value: each writes
    a complete candidate to a file of its own, then links it to the final name, which fails if the
    name exists (as O_EXCL would); everyone then reads what the winner linked. A reader never sees
    a half-written file.
    """
    path = instance / f".{key}"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        candidate = instance / f".{key}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(32))
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(candidate, path)
        finally:
            candidate.unlink(missing_ok=True)
    value = path.read_text().strip()
    if not value:
        raise SettingsError(f"{path} is empty: delete it to have a new {key.upper()} made")
    return value


def describe() -> list[tuple[str, str, str]]:
    """(VARIABLE, default, description) for every setting, for docs and .env.example."""
    return [
        (f.name.upper(), f.metadata["default"], f.metadata["doc"])
        for f in dataclasses.fields(Settings)
    ]


ENV_EXAMPLE_HEADER = """\
# Nexpo Reports configuration. Every variable, with its default; unset means the default.
# Copy to .env beside app.py, or export in the environment (which wins). A bad value stops start-up with one line naming it.
# Generated from settings.py: `make env-example` (a test checks this file matches it).
"""


def env_example() -> str:
    """The text of .env.example: every variable with its description and default."""
    lines = [ENV_EXAMPLE_HEADER]
    for name, default, doc in describe():
        lines.append(f"# {doc}\n{name}={default}\n")
    return "\n".join(lines[:1]) + "\n" + "".join(lines[1:])


if __name__ == "__main__":
    print(env_example(), end="")
