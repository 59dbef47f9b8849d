"""Browser tests: the real app served in a subprocess, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from exports.chromium import CHROMIUM_ARGS  # the flags the product's own Chromium uses
from settings import PROJECT_ROOT

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(
    instance: Path, warehouse_url: str, *, script: str | Path = "app.py", **env: str
) -> Iterator[str]:
    """`python app.py` (or another launcher `script`) on a free port with `instance`, the
    warehouse and extra `env` settings; yields its base URL once /health answers, and stops it
    afterwards."""
    port = free_port()
    instance.mkdir(parents=True, exist_ok=True)
    full_env = {
        **os.environ,
        "INSTANCE_PATH": str(instance),
        "WAREHOUSE_URL": warehouse_url,
        "PORT": str(port),
        "LOG_LEVEL": "warning",
        **env,
    }
    log_path = instance / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=PROJECT_ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError(
                        f"app did not start: {log_path.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)
        try:
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="session")
def served_app(tmp_path_factory: pytest.TempPathFactory, demo_warehouse: str) -> Iterator[str]:
    """The app with a fresh instance folder and the demo warehouse, for the whole session."""
    with serve_app(tmp_path_factory.mktemp("served-instance"), demo_warehouse) as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: run `make test` (it installs it) or set CHROMIUM_PATH"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.console_errors = errors
    yield pg
    context.close()


def sign_in(
    page, base: str, username: str = "analyst", password: str = "nexpo-demo", next_path: str = "/"
) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
