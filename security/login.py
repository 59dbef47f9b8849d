"""The sign-in form and sign-out; who is asking is resolved in security/auth.py."""

from __future__ import annotations

from urllib.parse import urlsplit

import click
from flask import Flask, Response, redirect, render_template_string, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlalchemy import select

from security import audit, auth
from security.csrf import cross_site_refusal, form_token, form_token_ok
from security.users import LoginError, authenticate, end_sessions, set_password
from store import Store
from store.models import User

MIN_PASSWORD = 10

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


def init_app(
    server: Flask, store: Store, *, demo_password: str | None = None, audit_enabled: bool = True
) -> LoginManager:
    """Register /login and /logout, and the one authentication pipeline (security/auth.py)."""
    manager = auth.init_app(server, store)

    @server.route("/login", methods=["GET", "POST"])
    def login() -> Response | str:
        next_url = _safe_next(request.values.get("next"))
        if request.method == "GET":
            return render_template_string(
                LOGIN_PAGE,
                error=None,
                next=next_url,
                username="",
                csrf_token=form_token(),
                demo=demo_password,
            )
        if not form_token_ok(request.form.get("csrf_token")):
            return render_template_string(
                LOGIN_PAGE,
                error="Your sign-in form expired. Please try again.",
                next=next_url,
                username="",
                csrf_token=form_token(),
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
                csrf_token=form_token(),
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
        # The navbar's link is a GET; another site's <img src=/logout> must not sign users out
        # everywhere, so a GET is held to the same cross-site check as a POST.
        refused = cross_site_refusal("POST", request.headers, request.host)
        if refused:
            return Response(refused, 403, mimetype="text/plain")
        if current_user.is_authenticated:
            who = current_user._get_current_object()
            end_sessions(store, who.id)  # a copy of this cookie stops working too
            audit.record(
                store, principal=who, action="logout", ip=request.remote_addr, enabled=audit_enabled
            )
        logout_user()
        session.clear()
        return redirect(url_for("login"))

    @server.cli.command("set-password")
    @click.argument("username")
    @click.password_option(help="The new password (asked twice when not given)")
    def set_password_command(username: str, password: str) -> None:
        """Give USERNAME a new password and end their existing sessions."""
        if len(password) < MIN_PASSWORD:
            raise click.ClickException(f"The password needs at least {MIN_PASSWORD} characters.")
        with store.session() as db:
            user_id = db.scalar(select(User.id).where(User.username == username.strip()))
        if user_id is None:
            raise click.ClickException(f"No user named {username!r}.")
        set_password(store, user_id, password)
        audit.record(
            store,
            principal=None,
            username="cli",
            action="user.update",
            target=f"user:{username.strip()}",
            detail={"changed": "password", "via": "cli"},
            enabled=audit_enabled,
        )
        click.echo(f"Password of {username.strip()} changed; their sessions have ended.")

    return manager
