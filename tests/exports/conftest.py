"""Export tests share one warm Chromium (PDF) and one warm kaleido server (images) per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium_printer() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing at /usr/bin/chromium: run `make test` (it installs it)")
    from exports.chromium import printer

    p = printer()
    p.start()
    yield p


@pytest.fixture(scope="session")
def image_server() -> Iterator[None]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing at /usr/bin/chromium: run `make test` (it installs it)")
    from exports.images import start_image_server, stop_image_server

    start_image_server()
    yield
    stop_image_server()


@pytest.fixture(scope="session")
def poppler() -> None:
    for tool in ("pdftotext", "pdftoppm", "pdfinfo"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install -y poppler-utils")
