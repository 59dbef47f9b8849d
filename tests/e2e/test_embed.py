"""A real cross-site iframe: the host page on http://localhost:<port B>, the app on 127.0.0.1:<port A>.

The browser context has no cookies at all and the app sets none (checked): the embed draws from
its token alone, as it must where third-party cookies are blocked. A tampered token shows the error page and no numbers; a host
origin that is not in EMBED_ALLOWED_ORIGINS cannot frame the embed; and the dashboard draws with
no Content-Security-Policy violation (no unsafe-eval, no inline script without its hash).
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.conftest import ARTIFACTS, free_port, serve_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def host_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("host-page")


@pytest.fixture(scope="module")
def host(host_dir: Path) -> Iterator[int]:
    """A plain static server for the host pages: the 'foreign' site."""
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(host_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.shutdown()


@pytest.fixture(scope="module")
def embed_app(tmp_path_factory, demo_warehouse: str, host: int) -> Iterator[tuple[str, Path]]:
    """The app served with EMBED_ALLOWED_ORIGINS = the host page's origin."""
    instance = tmp_path_factory.mktemp("embed-instance")
    with serve_app(
        instance, demo_warehouse, EMBED_ALLOWED_ORIGINS=f"http://localhost:{host}"
    ) as base:
        yield base, instance


def embed_link(base: str, instance: Path, dashboard: str = "revenue_overview") -> dict:
    """An admin's API token (made in the app's store), then GET /api/dashboards/:id/embed (the
    seed's table lets analysts export only user_analytics and kpi_dashboard)."""
    from security import tokens
    from store import init_store
    from store.models import User

    store = init_store(f"sqlite:///{instance / 'nexpo.db'}")
    with store.session() as session:
        issuer = session.scalar(select(User.id).where(User.username == "admin"))
    plaintext, _ = tokens.issue(store, issuer, "e2e")
    store.dispose()
    request = urllib.request.Request(
        f"{base}/api/dashboards/{dashboard}/embed?ttl_seconds=600",
        headers={"Authorization": f"Bearer {plaintext}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def host_page(host_dir: Path, name: str, src: str) -> None:
    (host_dir / name).write_text(
        "<!doctype html><html><head><title>Nexpo app (host)</title></head><body>"
        "<h1>Partner portal</h1>"
        f'<iframe id="embed" src="{src}" width="1280" height="900" style="border:1px solid #ccc"></iframe>'
        "</body></html>"
    )


def test_embed_draws_in_a_cross_site_iframe_and_a_tampered_token_fails(
    embed_app, host, host_dir, browser
):
    base, instance = embed_app
    link = embed_link(base, instance)
    assert link["url"].startswith(f"{base}/embed/")
    token = link["token"]
    body, signature = token.split(".")
    tampered = body[:-4] + ("AAAA" if not body.endswith("AAAA") else "BBBB") + "." + signature
    host_page(host_dir, "good.html", link["url"])
    host_page(host_dir, "tampered.html", f"{base}/embed/{tampered}")

    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.on("pageerror", lambda exc: console.append(str(exc)))

    page.goto(f"http://localhost:{host}/good.html")
    frame = page.frame_locator("#embed")
    frame.locator("#embed-page").wait_for(timeout=30_000)
    # Locator waits, not wait_for_function: the page's CSP forbids the eval that one would need.
    expect(frame.locator("[data-testid=metric-value]")).to_have_count(4, timeout=60_000)
    expect(frame.locator("[data-dash-is-loading=true]")).to_have_count(0, timeout=60_000)
    expect(frame.locator(".js-plotly-plot .main-svg").first).to_be_visible(timeout=60_000)
    assert frame.locator("#shell-navbar").count() == 0  # no navigation chrome
    assert frame.locator(".widget-error").count() == 0
    assert context.cookies(base) == []  # nothing was set: the token alone carried the embed
    values_30d = frame.locator("[data-testid=metric-value]").all_inner_texts()
    assert all(v.strip() and v.strip() != "—" for v in values_30d), values_30d
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "embed-cross-site-iframe.png"), full_page=True)

    # Switching the period inside the iframe runs the embed's callbacks through the token path.
    before = frame.locator("#embed-window-text").inner_text()
    frame.locator("label", has_text="90d").click()
    expect(frame.locator("#embed-window-text")).not_to_have_text(before, timeout=30_000)
    expect(frame.locator("[data-dash-is-loading=true]")).to_have_count(0, timeout=60_000)
    assert frame.locator(".widget-error").count() == 0
    violations = [m for m in console if "Content Security Policy" in m or "unsafe-eval" in m]
    assert not violations, violations

    page.goto(f"http://localhost:{host}/tampered.html")
    bad = page.frame_locator("#embed")
    bad.locator("#embed-error").wait_for(timeout=30_000)
    assert "changed or was not issued" in bad.locator("#embed-error").inner_text()
    assert bad.locator("[data-testid=metric-value]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "embed-tampered-token.png"))

    # The same page on an origin that is not in EMBED_ALLOWED_ORIGINS may not frame it.
    blocked_console: list[str] = []
    page.on("console", lambda m: blocked_console.append(m.text))
    page.goto(f"http://127.0.0.1:{host}/good.html")
    page.wait_for_timeout(1500)
    framed = next((f for f in page.frames if "/embed/" in f.url), None)
    assert framed is None or framed.locator("#embed-page").count() == 0
    context.close()
