"""PDF_GENERATOR_URL: the report printed by a Gotenberg-style service. The stand-in below speaks
Gotenberg's Chromium HTML route (POST /forms/chromium/convert/html, multipart `files` with
index.html, footer.html and assets, form fields printBackground, preferCssPageSize,
waitForExpression) and prints with a real Chromium, as Gotenberg does."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from exports import ExportError, ExportLimits, render
from exports.pdf_service import ROUTE, PdfServiceError, convert_html
from tests.exports.factories import report

CHROMIUM = "/usr/bin/chromium"


class GotenbergStandIn:
    """A WSGI app answering the HTML route; records what it received. `status` forces an error."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        self._playwright: Any = None
        self._browser: Any = None

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.app(environ, start_response)

    @Request.application
    def app(self, request: Request) -> Response:
        if request.method != "POST" or request.path != ROUTE:
            return Response("Not Found", 404, content_type="text/plain")
        files = {f.filename: f.read().decode() for f in request.files.getlist("files")}
        self.received.append({"files": sorted(files), "fields": dict(request.form)})
        if self.status != 200:
            return Response("Chromium crashed", self.status, content_type="text/plain")
        if "index.html" not in files:
            return Response("index.html is required", 400, content_type="text/plain")
        return Response(self._print(files, request.form), content_type="application/pdf")

    def _print(self, files: dict[str, str], form: Any) -> bytes:
        if self._browser is None:  # the server thread owns the browser (Playwright's sync API)
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--headless"]
            )
        page = self._browser.new_page()
        try:
            # Assets are linked by name: serve each uploaded file at its name, nothing else.
            page.route(
                "**/*",
                lambda route: (
                    route.fulfill(body=files[name], content_type="text/javascript")
                    if (name := route.request.url.rsplit("/", 1)[-1]) in files
                    else route.abort()
                ),
            )
            page.goto("http://gotenberg.invalid/index.html")
            page.set_content(files["index.html"], wait_until="load")
            if form.get("waitForExpression"):
                page.wait_for_function(form["waitForExpression"], timeout=30_000)
            footer = files.get("footer.html", "<span></span>")
            return page.pdf(
                print_background=form.get("printBackground") == "true",
                prefer_css_page_size=form.get("preferCssPageSize") == "true",
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=footer.split("<body>", 1)[-1].rsplit("</body>", 1)[0],
            )
        finally:
            page.close()

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._playwright.stop()


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[str, GotenbergStandIn]]:
    stand_in = GotenbergStandIn()
    server = make_server("127.0.0.1", 0, stand_in, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}", stand_in
    server.shutdown()
    thread.join(5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pdftotext(path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_the_service_prints_the_report_with_its_charts_and_page_numbers(service, tmp_path, poppler):
    url, stand_in = service
    stand_in.status = 200
    path = tmp_path / "report.pdf"
    render(report(), "pdf", path, limits=ExportLimits(pdf_generator_url=url))

    sent = stand_in.received[-1]
    assert sent["files"] == ["footer.html", "index.html", "plotly.min.js"]
    assert sent["fields"]["waitForExpression"] == "window.nexpoChartsReady === true"
    text = pdftotext(path)
    assert "Revenue overview" in text and "$12,345.67" in text  # title and a card's value
    assert "stripe" in text and "paypal" in text  # the chart, drawn by plotly.js in the service
    assert "Page 1 of" in text  # footer.html


def test_a_trailing_slash_in_the_url_is_fine(service):
    url, stand_in = service
    stand_in.status = 200
    data = convert_html(url + "/", "<html><body>x</body></html>", footer_html="", timeout=30)
    assert data.startswith(b"%PDF-")


def test_a_service_that_is_down_is_a_clear_error_and_no_file(tmp_path):
    path = tmp_path / "report.pdf"
    started = time.monotonic()
    with pytest.raises(ExportError) as err:
        render(
            report(),
            "pdf",
            path,
            limits=ExportLimits(pdf_generator_url=f"http://127.0.0.1:{_free_port()}"),
        )
    assert isinstance(err.value, PdfServiceError)
    assert err.value.user_message.startswith("The PDF service (PDF_GENERATOR_URL) is not reachable")
    assert "127.0.0.1" not in err.value.user_message  # no address shown to users
    assert not path.exists() and list(tmp_path.iterdir()) == []
    assert time.monotonic() - started < 30


def test_an_error_answer_is_a_clear_error_and_no_file(service, tmp_path):
    url, stand_in = service
    stand_in.status = 503
    path = tmp_path / "report.pdf"
    try:
        with pytest.raises(PdfServiceError) as err:
            render(report(), "pdf", path, limits=ExportLimits(pdf_generator_url=url))
    finally:
        stand_in.status = 200
    assert "(HTTP 503)" in err.value.user_message and "PDF_GENERATOR_URL" in err.value.user_message
    assert list(tmp_path.iterdir()) == []


def test_the_setting_reaches_the_renderer(app):
    settings = app.server.extensions["nexpo"].settings.replace(
        pdf_generator_url="http://pdf-service:3000"
    )
    assert ExportLimits.from_settings(settings).pdf_generator_url == "http://pdf-service:3000"
    assert (
        ExportLimits.from_settings(app.server.extensions["nexpo"].settings).pdf_generator_url == ""
    )
