"""Login and logout routes, the session guard for every other route, and flask-login wiring."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    g,
    jsonify,
    redirect,
    render_template_string,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, current_user, login_user, logout_user

from security import audit
from security.users import LoginError, authenticate, load_principal
from store import Store

# Paths reachable without a session: the login page itself, liveness, and static files.
PUBLIC_PREFIXES = (
    "/login",
    "/health",
    "/assets/",
    "/_dash-component-suites/",
    "/_favicon.ico",
    "/favicon.ico",
)

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Nexpo Reports</title>
<link rel="stylesheet" href="/assets/00-bootstrap.min.css"><link rel="stylesheet" href="/assets/10-app.css"></head>
<body class="bg-body-tertiary">
<main class="login-card card shadow-sm mx-auto">
  <div class="card-body p-4">
    <h1 class="h4 mb-1">Nexpo Reports</h1>
    <p class="text-secondary mb-4">Sign in to see your dashboards.</p>
    {% if error %}<div class="alert alert-danger py-2" role="alert" id="login-error">{{ error }}</div>{% endif %}
    <form method="post" action="/login">
      <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
      <input type="hidden" name="next" value="{{ next }}">
      <div class="mb-3"><label class="form-label" for="username">Username</label>
        <input class="form-control" id="username" name="username" autocomplete="username" value="{{ username }}" required autofocus></div>
      <div class="mb-3"><label class="form-label" for="password">Password</label>
        <input class="form-control" id="password" name="password" type="password" autocomplete="current-password" required></div>
      <button class="btn btn-primary w-100" type="submit" id="login-submit">Sign in</button>
    </form>
    {% if demo %}<p class="small text-secondary mt-3 mb-0">Demo: admin, manager, analyst or viewer, password <code>{{ demo }}</code></p>{% endif %}
  </div>
</main></body></html>"""


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so the login form cannot redirect elsewhere."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _csrf_token() -> str:
    token = session.get("csrf_token")
    if not token:
        token = session["csrf_token"] = secrets.token_urlsafe(24)
    return token


def init_app(
    server: Flask, store: Store, *, demo_password: str | None = None, audit_enabled: bool = True
) -> LoginManager:
    """Register /login and /logout and require a session everywhere else."""
    manager = LoginManager()
    manager.init_app(server)
    manager.user_loader(lambda user_id: load_principal(store, user_id))

    @server.before_request
    def require_session() -> Response | None:
        path = request.path
        if path.startswith(PUBLIC_PREFIXES) or current_user.is_authenticated:
            return None
        if path.startswith("/api/"):
            return None  # the API authenticates itself: bearer token or session (api/__init__.py)
        if path.startswith("/embed/") and g.get("embed_claims") is not None:
            return None  # a verified embed token, checked first on every request (pages/embed.py)
        if path.startswith(("/_dash-", "/_reload-hash")):
            response = jsonify(
                error="unauthorized", message="Sign in first: this request needs a session."
            )
            response.status_code = 401
            return response
        return redirect(url_for("login", next=request.full_path.rstrip("?")))

    @server.route("/login", methods=["GET", "POST"])
    def login() -> Response | str:
        next_url = _safe_next(request.values.get("next"))
        if request.method == "GET":
            return render_template_string(
                LOGIN_PAGE,
                error=None,
                next=next_url,
                username="",
                csrf_token=_csrf_token(),
                demo=demo_password,
            )
        if not secrets.compare_digest(
            request.form.get("csrf_token", ""), session.get("csrf_token", "")
        ):
            return render_template_string(
                LOGIN_PAGE,
                error="Your sign-in form expired. Please try again.",
                next=next_url,
                username="",
                csrf_token=_csrf_token(),
                demo=demo_password,
            ), 400
        username = request.form.get("username", "")
        try:
            principal = authenticate(store, username, request.form.get("password", ""))
        except LoginError as exc:
            audit.record(
                store,
                principal=None,
                username=username[:80],
                action="login",
                outcome="denied",
                ip=request.remote_addr,
                enabled=audit_enabled,
            )
            return render_template_string(
                LOGIN_PAGE,
                error=str(exc),
                next=next_url,
                username=username,
                csrf_token=_csrf_token(),
                demo=demo_password,
            ), 401
        session.clear()
        login_user(principal)
        audit.record(
            store,
            principal=principal,
            action="login",
            ip=request.remote_addr,
            enabled=audit_enabled,
        )
        return redirect(next_url)

    @server.route("/logout", methods=["GET", "POST"])
    def logout() -> Response:
        if current_user.is_authenticated:
            audit.record(
                store,
                principal=current_user._get_current_object(),
                action="logout",
                ip=request.remote_addr,
                enabled=audit_enabled,
            )
        logout_user()
        session.clear()
        return redirect(url_for("login"))

    return manager
