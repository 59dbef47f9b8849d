"""Nexpo Reports: `create_app(settings)` builds the Dash app; `server` is its Flask app for gunicorn."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import dash
from flask import Flask

from datasources.registry import DataSources
from engine.services import Services
from settings import PROJECT_ROOT, Settings, SettingsError
from store import init_store

log = logging.getLogger("nexpo")


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the app: metadata store (migrated), data sources, login, health, CLI commands and pages."""
    settings = settings or Settings.from_env()
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations at start-up are routine
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)

    server = Flask(__name__, instance_path=settings.instance_path)
    server.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
    )
    from security import bad_input, policy

    bad_input.init_server(server, settings.max_content_length)  # before any route: bad input is 4xx

    policy.install_file(settings.access_policy_file)  # the seed's table, or ACCESS_POLICY_FILE's
    from security.users import DEMO_PASSWORD, ensure_demo_users

    # Migrations and demo users under the init lock: workers starting together take turns.
    seed = ensure_demo_users if settings.demo_mode else None
    store = init_store(settings.database_url, seed)
    services = Services(settings, store, DataSources.from_settings(settings))
    services.init_app(server)

    import api
    import workers
    from analytics import cli as metric_cli
    from demo import cli as demo_cli
    from exports import jobs as export_jobs
    from monitoring import health
    from security import login, tokens
    from store import cli as store_cli

    login.init_app(
        server,
        store,
        demo_password=DEMO_PASSWORD if settings.demo_mode else None,
        audit_enabled=settings.enable_audit_log,
    )
    tokens.register(server, store, audit_enabled=settings.enable_audit_log)
    health.init_app(server, lambda: services.sources)
    demo_cli.register(server, settings)
    store_cli.register(server, store, seed)  # `flask init`: the same, once, before workers start
    api.init_app(server)
    workers.init_app(server, services)  # the scheduler (background thread, CLI commands)
    export_jobs.init_app(server, services)  # interrupted exports failed now and by the monitor
    metric_cli.register(server, settings)

    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(PROJECT_ROOT / "pages"),
        assets_folder=str(PROJECT_ROOT / "assets"),
        external_stylesheets=[],
        suppress_callback_exceptions=True,
        title="Nexpo Reports",
        update_title=None,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    from layouts.shell import shell

    app.layout = shell
    from pages import admin_users
    from pages import embed as embed_page
    from security import headers, logscrub, ratelimit

    embed_page.init_app(app)  # /embed/<token>: the auth pipeline's embed step
    bad_input.init_app(app)  # a callback request must fit the callback it names (400)
    admin_users.init_app(server)  # a direct load of /admin/... by a non-admin answers 403
    headers.init_app(server, settings, app)  # CSP, HSTS behind TLS, nosniff, frame options
    ratelimit.init_app(server, store, audit_enabled=settings.enable_audit_log)  # login 429s
    logscrub.install()  # no tokens, passwords or e-mails in the logs
    return app


def main() -> None:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app = create_app(settings)
    url = f"http://{settings.host}:{settings.port}"
    print(f"\n  Nexpo Reports is serving on {url}")
    if settings.demo_mode:
        print("  Demo logins: admin, manager, analyst, viewer — password: nexpo-demo\n")
    app.run(host=settings.host, port=settings.port, debug=False)


def __getattr__(name: str) -> Flask:
    # `gunicorn app:server` and `flask --app app ...` find the Flask server here; built on first access
    # so that importing this module has no side effects.
    if name in ("server", "application"):
        try:
            app = create_app()
        except SettingsError as exc:
            print(f"Configuration error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        globals()["server"] = globals()["application"] = app.server
        return app.server
    raise AttributeError(name)


if __name__ == "__main__":
    main()
