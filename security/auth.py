"""Who is asking, resolved in one place for every request: embed token, bearer token or session.

`authenticate_request` is the server's first before_request hook and the only one that decides
who is asking. In order, and the first that applies wins:

1. `/embed/<token>/...`: the embed token in the path, verified (and its issuer re-checked) by the
   resolver `pages/embed.py` registers with `set_embed_resolver`. The session cookie never acts
   there: `current_user` stays anonymous and `caller().principal` is the embed's principal.
2. `/api/...` with an `Authorization` header: the bearer token (`security/tokens.py`); a bad
   one is a 401 even when a session cookie is present. `current_user` is the token's user.
3. Anything else: Flask-Login's session, whose `user_loader` (`users.session_principal`) refuses
   a cookie whose session version is stale (signed out, password or role changed, deactivated).

Then, for requests that are not token-authenticated, the one CSRF check (`security/csrf.py`):
a POST, PUT, PATCH or DELETE that a browser says comes from another site's page is a 403, before
any route or callback runs. Last, a request without a principal outside the public paths gets
a 401 (API, Dash's internals) or a redirect to /login (pages).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from flask import Flask, Response, current_app, g, jsonify, redirect, request, url_for
from flask_login import LoginManager, current_user

from security import tokens
from security.csrf import cross_site_refusal
from security.users import Principal, session_principal
from store import Store

EXTENSION_KEY = "nexpo_auth"
EMBED_PREFIX = "/embed/"
API_PREFIX = "/api/"
# Reachable without a principal: the login page, liveness, static files, the OpenAPI document.
PUBLIC_PREFIXES = (
    "/login",
    "/health",
    "/assets/",
    "/_dash-component-suites/",
    "/_favicon.ico",
    "/favicon.ico",
)
PUBLIC_PATHS: set[str] = {"/api/openapi.json"}  # route modules add theirs (api/troubleshooting.py)
JSON_PREFIXES = (API_PREFIX, "/_dash-", "/_reload-hash")

Via = Literal["embed", "token", "session", "none"]
EmbedResolver = Callable[[], "Principal | Response"]


@dataclass(frozen=True)
class Caller:
    """Who is asking and how they proved it."""

    principal: Principal | None
    via: Via


@dataclass
class AuthState:
    store: Store
    embed_resolver: EmbedResolver | None = None


def caller() -> Caller:
    """The resolved caller of the current request (anonymous before the hook has run)."""
    return g.get("caller") or Caller(None, "none")


def set_embed_resolver(server: Flask, resolver: EmbedResolver) -> None:
    """Register how `/embed/...` requests are verified: a principal, or the refusal to answer."""
    server.extensions[EXTENSION_KEY].embed_resolver = resolver


def init_app(server: Flask, store: Store) -> LoginManager:
    """Wire Flask-Login (versioned session ids) and put `authenticate_request` first."""
    manager = LoginManager()
    manager.init_app(server)
    manager.user_loader(lambda session_id: session_principal(store, session_id))
    server.extensions[EXTENSION_KEY] = AuthState(store)
    server.before_request_funcs.setdefault(None, []).insert(0, authenticate_request)
    return manager


def authenticate_request() -> Response | None:
    """Resolve the caller, refuse cross-site session writes, and require a principal."""
    state: AuthState = current_app.extensions[EXTENSION_KEY]
    path = request.path
    if path.startswith(EMBED_PREFIX):
        g._login_user = current_app.login_manager.anonymous_user()  # never the session's user
        if state.embed_resolver is None:
            return _json(404, "not_found", "Embedded dashboards are not available here.")
        found = state.embed_resolver()
        if isinstance(found, Response):
            return found
        g.caller = Caller(found, "embed")
        return None
    header = request.headers.get("Authorization")
    if header and path.startswith(API_PREFIX) and path not in PUBLIC_PATHS:
        principal = tokens.verify(state.store, tokens.bearer_token(header))
        if principal is None:
            return _json(
                401, "unauthorized", "The API token is missing, malformed, revoked or unknown."
            )
        g._login_user = principal
        g.caller = Caller(principal, "token")
        return None
    user = current_user._get_current_object() if current_user.is_authenticated else None
    g.caller = Caller(user, "session" if user is not None else "none")
    refused = cross_site_refusal(request.method, request.headers, request.host)
    if refused:
        return _json(403, "cross_site", refused)
    if user is not None or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    if path.startswith(API_PREFIX):
        return _json(401, "unauthorized", "Send 'Authorization: Bearer <token>' or sign in first.")
    if path.startswith(JSON_PREFIXES):
        return _json(401, "unauthorized", "Sign in first: this request needs a session.")
    return redirect(url_for("login", next=request.full_path.rstrip("?")))


def _json(status: int, code: str, message: str) -> Response:
    response = jsonify(error=code, message=message)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
