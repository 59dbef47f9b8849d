"""Refusing cross-site browser requests that ride on the session cookie (CSRF) at the API.

The API accepts a signed-in browser session as well as bearer tokens, so a page on the same origin
(the seed's dashboard widget) can call it with `fetch` and no extra header. What keeps another
site from doing the same with the victim's cookie:

1. The session cookie is SameSite=Lax (app.py): a cross-site POST carries no cookie at all.
2. The API's bodies are JSON (`api.json_body` needs `Content-Type: application/json`), which a
   cross-origin page can only send after a CORS preflight that this service never grants.
3. This check, for a sibling sub-domain (same site, other origin: SameSite does not help there) and
   for browsers without SameSite: an unsafe request (POST, PUT, PATCH, DELETE) on a session is
   refused when the browser says it comes from elsewhere: `Sec-Fetch-Site` other than
   `same-origin` or `none`, or, from browsers that do not send it, an `Origin` whose host is not
   this request's host. A request with neither header is not from a browser page (curl, a script
   with a copied cookie), which a forged page cannot produce.

Bearer-token requests are not checked: a token is never sent by a browser on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

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
    if not origin:
        return None
    if origin.lower() == "null" or urlsplit(origin).netloc.lower() != host.lower():
        return _message(origin)
    return None


def _message(source: str) -> str:
    return (
        f"Cross-site request refused: a page on {source} may not use your session here. "
        "Call the API from this site's own pages, or with an API token."
    )
