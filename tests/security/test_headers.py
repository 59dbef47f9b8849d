"""Security headers, TLS-aware cookies, login rate limiting and log scrubbing on the real app."""

from __future__ import annotations

import base64
import hashlib
import logging
import re

import pytest

from security.logscrub import ScrubFilter
from security.ratelimit import LoginLimiter, MemoryFailures


def test_every_response_has_the_security_headers(client, login):
    login("analyst")
    for path in ("/", "/login", "/api/reports", "/health", "/assets/10-app.css"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self' 'sha256-" in csp and "'unsafe-eval'" not in csp, path
        assert "object-src 'none'" in csp and "frame-ancestors 'self'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "SAMEORIGIN"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # plain HTTP: no HSTS


def test_csp_hashes_every_inline_script_of_the_dash_page(app, client, login):
    login("analyst")
    response = client.get("/")
    page = re.sub(r"<!--.*?-->", "", response.get_data(as_text=True), flags=re.S)  # IE-only block
    inline = re.findall(
        r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", page, re.S
    )
    assert inline
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in response.headers["Content-Security-Policy"]


def test_https_gets_hsts_and_a_secure_session_cookie(client):
    response = client.get("/login", base_url="https://reports.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    plain = client.get("/login").headers["Set-Cookie"]
    assert "Secure" not in plain


def test_embed_responses_may_be_framed_and_never_say_deny(client):
    response = client.get("/embed/not-a-token")
    assert response.status_code == 403
    assert "X-Frame-Options" not in response.headers
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def _login_form(client):
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_five_failed_logins_answer_429_and_are_audited(app):
    from engine.services import EXTENSION_KEY
    from security.audit import query

    client = app.server.test_client()
    ip = "203.0.113.9"
    env = {"REMOTE_ADDR": ip}
    csrf = _login_form(client)
    form = {"username": "manager", "password": "wrong", "csrf_token": csrf, "next": "/"}
    codes = [client.post("/login", data=form, environ_base=env).status_code for _ in range(5)]
    assert codes == [401] * 5
    limited = client.post("/login", data={**form, "password": "nexpo-demo"}, environ_base=env)
    assert limited.status_code == 429
    assert "Too many failed sign-ins" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) > 0
    # Another address is not locked out by this one.
    other = client.post(
        "/login",
        data={**form, "password": "nexpo-demo"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert other.status_code == 302
    store = app.server.extensions[EXTENSION_KEY].store
    rows = query(store, action="login", outcome="denied", ip=ip).items
    assert any(r.detail.get("reason") == "rate_limited" for r in rows)


def test_memory_limiter_frees_the_pair_after_the_window():
    from datetime import UTC, datetime, timedelta

    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    limiter = LoginLimiter(MemoryFailures(), clock=lambda: now[0])
    for _ in range(5):
        limiter.note(" Ana ", "10.0.0.1", ok=False)
    limited = limiter.check("ana", "10.0.0.1")
    assert limited is not None and limited.retry_after == 300
    now[0] += timedelta(minutes=5, seconds=1)
    assert limiter.check("ana", "10.0.0.1") is None


@pytest.mark.parametrize(
    "message, secret",
    [
        ("GET /embed/eyJkIjoicmV2ZW51ZV9vdmVydmlldyJ9abcdef.px5DLsudNTJitHuWQoNMEy6Eyjx HTTP/1.1", "eyJkIjoicmV2ZW51ZV9vdmVydmlldyJ9abcdef"),
        ("token nxp_c_khRn8YCJc522isO4g7QwOHa0TBg6K4v4IQn-8g8eM created", "nxp_c_khRn8Y"),
        ("login failed for ana.analyst@nexpo.example", "ana.analyst@"),
        ("POST /login password=hunter2hunter2", "hunter2"),
    ],
)  # fmt: skip
def test_log_records_are_scrubbed(message, secret):
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s", (message,), None)
    assert ScrubFilter().filter(record)
    assert secret not in record.getMessage()
