"""CSRF, one mechanism: unsafe requests that ride on the session cookie must come from this origin.

`security/auth.py` applies `cross_site_refusal` to every POST, PUT, PATCH and DELETE that is not
authenticated by a bearer or embed token: the API (body-less ones such as
`/api/schedules/<id>/run` included), Dash's callbacks (`/_dash-update-component`), `/login` and
`/logout`. A signed-in page on this origin (the seed's dashboard widget, Dash itself) needs no
extra header. What keeps another site from riding on the victim's cookie:

1. The session cookie is SameSite=Lax (app.py): a cross-site POST carries no cookie at all.
2. The API's bodies are JSON (`api.json_body` needs `Content-Type: application/json`), which a
   cross-origin page can only send after a CORS preflight that this service never grants.
3. This check, for a sibling sub-domain (same site, other origin: SameSite does not help there) and
   for browsers without SameSite: an unsafe request (POST, PUT, PATCH, DELETE) on a session is
   refused when the browser says it comes from elsewhere: `Sec-Fetch-Site` other than
   `same-origin` or `none`, or, from browsers that do not send it, an `Origin` (else a `Referer`)
   whose host is not this request's host. A request with none of them is not from a browser page
   (curl, a script with a copied cookie), which a forged page cannot produce.
4. The sign-in form, posted before any session exists, also carries `form_token()`, which
   `form_token_ok` compares with the one in the session; a missing or empty token on either side
   never matches.

Bearer-token requests are not checked: a token is never sent by a browser on its own. Nor are
embed requests: their token is in the path and they never read the cookie.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import session

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_ORIGIN_FETCH_SITES = frozenset({"same-origin", "none"})  # "none": typed by the user


def cross_site_refusal(method: str, headers: Mapping[str, str], host: str) -> str | None:
    """Why this session request must be refused as cross-site, or None when it may go on.

    Args:
        method: the HTTP method; safe methods (GET, HEAD, OPTIONS) are never refused.
        headers: the request headers (`Sec-Fetch-Site`, `Origin`).
        host: the host (and port) this request was sent to, as `request.host` gives it (behind
            a proxy with TRUST_PROXY_HEADERS, the forwarded host).

    Returns:
        A message safe to show, naming the origin refused.
    """
    if method.upper() not in UNSAFE_METHODS:
        return None
    fetch_site = (headers.get("Sec-Fetch-Site") or "").strip().lower()
    origin = (headers.get("Origin") or "").strip()
    if fetch_site:
        if fetch_site in SAME_ORIGIN_FETCH_SITES:
            return None
        return _message(origin or f"a {fetch_site} page")
    if origin:
        if origin.lower() == "null" or urlsplit(origin).netloc.lower() != host.lower():
            return _message(origin)
        return None
    referer = (headers.get("Referer") or "").strip()
    if referer and urlsplit(referer).netloc.lower() != host.lower():
        return _message(urlsplit(referer).netloc or "another page")
    return None


def _message(source: str) -> str:
    return (
        f"Cross-site request refused: a page on {source} may not use your session here. "
        "Call the API from this site's own pages, or with an API token."
    )


SESSION_KEY = "csrf_token"


def form_token() -> str:
    """The session's form token (made on first use): put it in forms posted without a session."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = session[SESSION_KEY] = secrets.token_urlsafe(24)
    return token


def form_token_ok(given: Any) -> bool:
    """True only when `given` is the session's non-empty form token: no token, no cookie, or an
    empty value on either side never matches (an empty token is not equal to an empty session)."""
    expected = session.get(SESSION_KEY)
    if not isinstance(given, str) or not given or not isinstance(expected, str) or not expected:
        return False
    return secrets.compare_digest(given.encode(), expected.encode())
