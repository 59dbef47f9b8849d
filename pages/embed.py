"""`/embed/<token>`: a dashboard for iframes, without navigation chrome, sessions or cookies.

How it works in a cross-site iframe without third-party cookies:

- `GET /embed/<token>` verifies the token and answers Dash's index page with its
  `requests_pathname_prefix` set to `/embed/<token>/`, so every request the page makes afterwards
  — layout, callback graph, every callback, Plotly's lazily loaded bundle — goes to
  `/embed/<token>/_dash-...` and carries the token in its path. No cookie is read or set.
- `resolve_embed`, the embed step of the one authentication pipeline (security/auth.py), verifies
  that path token on every `/embed/...` request (signature, expiry, revocation in the metadata
  store, and the issuer as they are now: active, still allowed to export this dashboard, the same
  row scope) and stores the claims in `g.embed_claims`. The pipeline keeps flask-login's user
  anonymous for the request, so a session cookie the browser may still send never acts. A bad
  token answers a clear 403 page (or JSON for Dash's own requests) and is audited: never data.
- Only this module's callbacks may run through `/embed/<token>/_dash-update-component`
  (`EMBED_MODULE`): an embed token cannot drive the app's other callbacks, and the callback graph
  sent to the page lists only these.
- The token also rides in the page's `dcc.Store`, and each callback checks it equals the path
  token this request verified (or, reached any other way, verifies it itself). The callbacks take only the period from the page, and only one of
  7d/30d/90d (the locked one when the token locks it); the dashboard, the rows (the issuer's
  department), the date cap (the issuer's role) and masking (always) come from the verified
  claims — editing the page's state cannot widen access.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import dash
from dash import MATCH, Input, Output, State, callback, html
from dash._utils import to_json
from flask import Flask, Response, g, jsonify, redirect, render_template_string, request

from components.widgets import widget_body
from engine import services
from engine.generate import data_freshness, run
from engine.periods import PERIOD_DAYS
from engine.reports import ReportNotFound, find_report
from engine.request import ReportRequest, ResolvedRequest, resolve
from layouts.embed import IDS, embed_error, embed_shell
from security import audit, auth
from security.embed import (
    EmbedClaims,
    EmbedTokenError,
    embed_issuer,
    store_is_revoked,
    verify_embed_token,
)
from security.policy import AccessDenied, EmbedPrincipal, authorize, embed_scope

log = logging.getLogger(__name__)

EMBED_PREFIX = "/embed/"
EMBED_MODULE = __name__
_CONFIG = re.compile(r'(<script id="_dash-config" type="application/json">)(.*?)(</script>)', re.S)

ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Embed unavailable · Nexpo Reports</title><link rel="stylesheet" href="/assets/00-bootstrap.min.css"></head>
<body class="bg-body-tertiary"><main class="container py-5 text-center" id="embed-error" role="alert">
<h1 class="h5">Cannot show this dashboard</h1><p class="text-secondary">{{ message }}</p>
</main></body></html>"""


# --- verification, shared by the routes and the callbacks ---


def verify(token: Any) -> EmbedClaims:
    """The claims of `token` (EmbedTokenError when it is not valid now, or its issuer's access
    has ended since they shared it)."""
    svc = services.current()
    claims = verify_embed_token(
        svc.settings.embed_secret, token, datetime.now(UTC), store_is_revoked(svc.store)
    )
    check_issuer(claims)
    return claims


def check_issuer(claims: EmbedClaims) -> None:
    """EmbedTokenError("withdrawn") unless the issuer, read from the store now, is active, may
    still export the dashboard, and has the row scope and role the link carries."""
    svc = services.current()
    issuer = embed_issuer(svc.store, claims.jti)
    if issuer is None or embed_scope(issuer) != claims.scope:
        raise EmbedTokenError("withdrawn")
    try:
        authorize(issuer, "export", find_report(svc.store, claims.dashboard).resource)
    except AccessDenied:
        raise EmbedTokenError("withdrawn") from None
    except ReportNotFound:
        return  # nothing to show: the layout says the dashboard no longer exists


def token_of(path: str) -> str:
    return path[len(EMBED_PREFIX) :].split("/", 1)[0]


def _audit(action: str, target: str | None, outcome: str, detail: dict[str, Any]) -> None:
    svc = services.current()
    audit.record(
        svc.store,
        principal=None,
        username="embed",
        action=action,
        target=target,
        outcome=outcome,  # type: ignore[arg-type]
        ip=request.remote_addr,
        detail=detail,
        enabled=svc.settings.enable_audit_log,
    )


def refuse(status: int, message: str) -> Response:
    """A 403/404 for an embed request: an HTML page for the page itself, JSON for Dash's requests."""
    if request.path.rstrip("/").count("/") <= 2 and request.method == "GET":
        response = Response(render_template_string(ERROR_PAGE, message=message), status)
    else:
        response = jsonify(error="forbidden" if status == 403 else "not_found", message=message)
        response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def resolve_embed() -> EmbedPrincipal | Response:
    """Who an /embed/... request acts as (security/auth.py asks): the verified token in its path,
    or the refusal to answer."""
    svc = services.current()
    if not svc.settings.report_portal_enabled:
        return refuse(
            404,
            "Embedded dashboards are switched off on this server (REPORT_PORTAL_ENABLED=false).",
        )
    token = token_of(request.path)
    try:
        claims = verify(token)
    except EmbedTokenError as exc:
        _audit("embed.use", None, "denied", {"reason": exc.reason, "path": request.path[-40:]})
        return refuse(403, exc.user_message)
    g.embed_claims, g.embed_token = claims, token
    return claims.principal()


# --- the routes under /embed/<token> ---


def embed_index(token: str) -> Response:
    claims: EmbedClaims = g.embed_claims
    app = dash.get_app()
    _audit("embed.use", f"dashboard:{claims.dashboard}", "ok", {"jti": claims.jti[:8]})
    page = app.index()

    def with_prefix(match: re.Match[str]) -> str:
        config = json.loads(match.group(2))
        config["requests_pathname_prefix"] = f"{EMBED_PREFIX}{token}/"
        config["url_base_pathname"] = None
        text = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e")
        return match.group(1) + text + match.group(3)

    page, replaced = _CONFIG.subn(with_prefix, page, count=1)
    if replaced != 1:  # a Dash upgrade changed the page: fail closed
        log.error("embed: Dash's _dash-config script was not found in the index page")
        return refuse(500, "This dashboard cannot be embedded right now.")
    return Response(page, mimetype="text/html")


def embed_layout(token: str) -> Response:
    return Response(to_json(initial_layout(g.embed_claims, token)), mimetype="application/json")


def initial_layout(claims: EmbedClaims, token: str) -> html.Div:
    svc = services.current()
    try:
        found = find_report(svc.store, claims.dashboard)
    except ReportNotFound:
        return embed_error("This dashboard no longer exists.")
    locked = claims.filters.get("period") in PERIOD_DAYS
    period = claims.filters["period"] if locked else found.spec.default_period
    if period not in PERIOD_DAYS:
        period = "30d"
    try:
        text = window_text(claims, period)
    except AccessDenied as exc:
        return embed_error(exc.user_message)
    fresh = data_freshness(svc, claims.principal()).label(svc.settings.report_timezone)
    return embed_shell(found.spec, token, period, locked=locked, window_text=text, freshness=fresh)


def embed_dependencies(token: str) -> Response:
    app = dash.get_app()
    mine = [c for c in app._callback_list if _is_embed_callback(app, c.get("output", ""))]
    return Response(to_json(mine), mimetype="application/json")


def embed_dispatch(token: str) -> Response:
    body = request.get_json(silent=True)
    app = dash.get_app()
    if not isinstance(body, dict) or not _is_embed_callback(app, body.get("output", "")):
        return refuse(403, "Only the embedded dashboard's own updates may run here.")
    return dash_dispatch(app)()


def dash_dispatch(app: dash.Dash) -> Any:
    return app.server.view_functions[app.config.routes_pathname_prefix + "_dash-update-component"]


def component_suite(token: str, rest: str) -> Response:
    # Plotly's bundle is fetched from the page's requests_pathname_prefix: the public copy.
    return redirect(f"/_dash-component-suites/{rest}", code=302)


def _is_embed_callback(app: dash.Dash, output: str) -> bool:
    entry = app.callback_map.get(output)
    function = entry.get("callback") if entry else None
    return getattr(function, "__module__", None) == EMBED_MODULE


def init_app(app: dash.Dash) -> None:
    """Register the embed routes and how the authentication pipeline verifies their token."""
    server: Flask = app.server
    auth.set_embed_resolver(server, resolve_embed)
    rules = (
        ("", "embed_page", embed_index, ["GET"]),
        ("/_dash-layout", "embed_layout", embed_layout, ["GET"]),
        ("/_dash-dependencies", "embed_dependencies", embed_dependencies, ["GET"]),
        ("/_dash-update-component", "embed_dispatch", embed_dispatch, ["POST"]),
    )
    for suffix, endpoint, view, methods in rules:
        server.add_url_rule(f"{EMBED_PREFIX}<token>{suffix}", endpoint, view, methods=methods)
    server.add_url_rule(
        f"{EMBED_PREFIX}<token>/_dash-component-suites/<path:rest>",
        "embed_component_suite",
        component_suite,
    )


# --- the callbacks: each verifies the token from the page and takes only the period from it ---


def verified(state: Any) -> tuple[EmbedClaims, str]:
    """(claims, period) for the page's state, verified; EmbedTokenError otherwise. The state's
    token must be the path's, which this request's authentication verified (issuer included);
    called outside such a request, the token is verified here."""
    token = state.get("token") if isinstance(state, dict) else None
    path_token = g.get("embed_token")
    if path_token is not None and token != path_token:
        raise EmbedTokenError("tampered")
    claims = g.embed_claims if path_token is not None else verify(token)
    locked = claims.filters.get("period")
    if isinstance(locked, str) and locked in PERIOD_DAYS:
        return claims, locked
    period = state.get("period")
    # Only a known period name counts; a list or object sent in its place falls back too.
    return claims, period if isinstance(period, str) and period in PERIOD_DAYS else "30d"


def embed_request(claims: EmbedClaims, period: str) -> ResolvedRequest:
    """The embed's view as the one request model, as the link's principal (the issuer's rows and
    cap, masked): only the period comes from the page, the report from the verified token."""
    svc = services.current()
    return resolve(ReportRequest(claims.dashboard, period), claims.principal(), svc)


def window_text(claims: EmbedClaims, period: str) -> str:
    resolved = embed_request(claims, period)
    tz = services.current().settings.report_timezone
    text = f"{resolved.window.label()} · {tz}"
    if resolved.capped:
        text += f" · limited to {resolved.window.days} days"
    return text


@callback(
    Output(IDS.STATE, "data"),
    Input(IDS.PERIOD, "value"),
    State(IDS.STATE, "data"),
    prevent_initial_call=True,
)
def update_embed_state(period: str | None, state: dict[str, Any] | None) -> dict[str, Any]:
    try:
        verified(state)
    except EmbedTokenError:
        raise dash.exceptions.PreventUpdate from None
    known = isinstance(period, str) and period in PERIOD_DAYS
    return {"token": state["token"], "period": period if known else "30d"}


@callback(Output(IDS.WINDOW, "children"), Input(IDS.STATE, "data"), prevent_initial_call=True)
def update_embed_window(state: dict[str, Any] | None) -> str:
    try:
        claims, period = verified(state)
        return window_text(claims, period)
    except (EmbedTokenError, AccessDenied, ReportNotFound) as exc:
        return getattr(exc, "user_message", "This embed link is not valid.")


@callback(
    Output(IDS.body(MATCH), "children"),
    Input(IDS.STATE, "data"),
    State(IDS.body(MATCH), "id"),
)
def update_embed_widget(state: dict[str, Any] | None, body_id: dict[str, str]) -> html.Div:
    svc = services.current()
    try:
        claims, period = verified(state)
        resolved = embed_request(claims, period)
        (result,) = run(resolved, svc, widgets=[resolved.spec.widget(body_id["widget"])])
    except (EmbedTokenError, AccessDenied, ReportNotFound) as exc:
        return html.Div(exc.user_message, className="widget-error", role="alert")
    except KeyError:
        return html.Div("No such widget on this dashboard.", className="widget-error", role="alert")
    return widget_body(result, svc.settings.report_currency)
