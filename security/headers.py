"""Security headers on every response, TLS-aware session cookies, and the trusted-proxy switch.

Every response gets:

- `Content-Security-Policy`: scripts only from this origin plus the SHA-256 hashes of Dash's own
  inline scripts (`dash_app.csp_hashes()`: the `new DashRenderer(...)` line and any clientside
  callbacks), no `unsafe-inline` and no `unsafe-eval` for scripts (Plotly 3 and the Dash 4
  renderer run without them; tests/security/test_headers.py checks a real dashboard draws with no
  CSP violation in Chromium). Styles need `'unsafe-inline'`: the Dash renderer and Plotly inject
  `<style>` elements at run time. Images may be `data:`/`blob:` (Plotly's mode bar and PNG
  downloads). `object-src 'none'`, `base-uri 'self'`, `form-action 'self'`.
- `frame-ancestors 'self'` and `X-Frame-Options: SAMEORIGIN`, except under `/embed/`, where
  `frame-ancestors` comes from EMBED_ALLOWED_ORIGINS (`security.embed.frame_ancestors`) and there
  is no X-Frame-Options (it cannot list origins; browsers that know CSP ignore it anyway).
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (`no-referrer` on embeds:
  their URL is a bearer credential), `Cross-Origin-Resource-Policy: same-origin` (not on embeds).
- `Strict-Transport-Security` only when the request came over TLS (directly, or through a proxy
  when TRUST_PROXY_HEADERS=true): sending it over plain HTTP is ignored by browsers, and sending
  it from a dev server on http://127.0.0.1 would be wrong.
- `Cache-Control: no-store` on API and embed responses (they carry data or credentials).

The session cookie is HttpOnly and SameSite=Lax (app.py), and Secure whenever the request is
HTTPS (`TlsAwareSessionInterface`), so the same build works on http://127.0.0.1 and behind TLS.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from security.embed import frame_ancestors

EMBED_PREFIX = "/embed/"
HSTS = "max-age=31536000; includeSubDomains"


class TlsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, with the Secure flag set whenever the request is HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def content_security_policy(script_hashes: list[str] | tuple[str, ...], ancestors: str) -> str:
    """The CSP header value: `script_hashes` are Dash's inline-script hashes ('sha256-...')."""
    directives = [
        "default-src 'self'",
        "script-src " + " ".join(["'self'", *script_hashes]),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        ancestors,
    ]
    return "; ".join(directives)


def init_app(server: Flask, settings: Any, dash_app: Any | None = None) -> None:
    """Add the headers to every response of `server`; `dash_app` supplies its inline-script hashes."""
    if settings.trust_proxy_headers:
        # One proxy in front: request.remote_addr, is_secure and host come from its X-Forwarded-*.
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    server.session_interface = TlsAwareSessionInterface()
    embed_ancestors = frame_ancestors(settings)

    def script_hashes() -> list[str]:
        # Hashed per response: cheap (a few short strings), and clientside callbacks registered by
        # pages after start-up are included the moment Dash adds them to its index page.
        return list(dash_app.csp_hashes()) if dash_app is not None else []

    @server.after_request
    def add_security_headers(response: Response) -> Response:
        embed = request.path.startswith(EMBED_PREFIX)
        headers = response.headers
        ancestors = embed_ancestors if embed else "frame-ancestors 'self'"
        headers["Content-Security-Policy"] = content_security_policy(script_hashes(), ancestors)
        if embed:
            headers.pop("X-Frame-Options", None)
            headers["Referrer-Policy"] = "no-referrer"
        else:
            headers["X-Frame-Options"] = "SAMEORIGIN"
            headers["Referrer-Policy"] = "same-origin"
            headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        headers["X-Content-Type-Options"] = "nosniff"
        if request.is_secure:
            headers["Strict-Transport-Security"] = HSTS
        if embed or (request.path.startswith("/api/") and request.path != "/api/openapi.json"):
            headers["Cache-Control"] = "no-store"
        return response
