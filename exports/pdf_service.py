"""PDF_GENERATOR_URL: a PDF printed by a Gotenberg-compatible service instead of the in-process
Chromium. Its Chromium HTML route takes multipart/form-data: `files` (index.html, footer.html and
the assets they load by name) and form fields (printBackground, preferCssPageSize,
waitForExpression), and answers the PDF bytes.

The report page draws its charts with plotly.js there (sent as the asset plotly.min.js), and the
service prints once `window.nexpoChartsReady` is true; the in-process path draws them as SVG first.
"""

from __future__ import annotations

import json

import requests
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from exports.result import ExportError, ExportTimeoutError

ROUTE = "/forms/chromium/convert/html"
READY = "window.nexpoChartsReady === true"
PLOTLY_ASSET = "plotly.min.js"


class PdfServiceError(ExportError):
    """The PDF service was unreachable or did not answer a PDF; nothing was written."""


def convert_html(
    base_url: str,
    html: str,
    *,
    footer_html: str,
    timeout: float,
    assets: dict[str, str] | None = None,
    wait_for: str | None = None,
) -> bytes:
    """POST `html` as index.html to `{base_url}/forms/chromium/convert/html`; the PDF's bytes.

    Raises:
        ExportTimeoutError: no answer within `timeout` seconds.
        PdfServiceError: connection refused, an error status, or an answer that is not a PDF.
    """
    url = base_url.rstrip("/") + ROUTE
    files = [
        ("files", ("index.html", html.encode(), "text/html")),
        ("files", ("footer.html", _document(footer_html).encode(), "text/html")),
        *[
            ("files", (name, text.encode(), "text/javascript"))
            for name, text in (assets or {}).items()
        ],
    ]
    fields = {"printBackground": "true", "preferCssPageSize": "true"}
    if wait_for:
        fields["waitForExpression"] = wait_for
    try:
        response = requests.post(url, files=files, data=fields, timeout=max(timeout, 0.001))
    except requests.Timeout:
        raise ExportTimeoutError(timeout, "PDF export (PDF_GENERATOR_URL)") from None
    except requests.RequestException as exc:
        raise PdfServiceError(
            f"PDF service {url} unreachable: {exc}",
            "The PDF service (PDF_GENERATOR_URL) is not reachable; try again later, "
            "or ask an administrator to check it.",
        ) from None
    if response.status_code != 200:
        raise PdfServiceError(
            f"PDF service {url} answered {response.status_code}: {response.text[:300]!r}",
            f"The PDF service (PDF_GENERATOR_URL) could not print the report "
            f"(HTTP {response.status_code}). The error was logged.",
        )
    if not response.content.startswith(b"%PDF-"):
        raise PdfServiceError(
            f"PDF service {url} answered {response.headers.get('Content-Type')!r}, not a PDF",
            "The PDF service (PDF_GENERATOR_URL) did not answer a PDF. The error was logged.",
        )
    return response.content


def _document(fragment: str) -> str:
    # Gotenberg wants header and footer files as whole HTML documents.
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<style>html,body{margin:0;padding:0}</style></head>"
        f"<body>{fragment}</body></html>"
    )


def chart_placeholder(index: int, width: int, height: int) -> Markup:
    """Where chart `index` is drawn in the service's browser."""
    return Markup(f'<div id="nexpo-chart-{index}" style="width:{width}px;height:{height}px"></div>')


def chart_script(figures: list[tuple[str, int, int]]) -> str:
    """The script that draws (figure JSON, width, height) into the placeholders, then sets READY."""
    payload = [{"figure": json.loads(f), "width": w, "height": h} for f, w, h in figures]
    data = json.dumps(payload).replace("</", "<\\/")
    return (
        f'<script src="{PLOTLY_ASSET}"></script>\n<script>\n'
        f"window.nexpoChartsReady = false;\nconst figures = {data};\n"
        "Promise.all(figures.map((f, i) => Plotly.newPlot('nexpo-chart-' + i, f.figure.data,"
        " Object.assign({}, f.figure.layout, {width: f.width, height: f.height}),"
        " {staticPlot: true, displayModeBar: false})))\n"
        "  .then(() => { window.nexpoChartsReady = true; });\n</script>\n"
    )


def plotly_assets() -> dict[str, str]:
    return {PLOTLY_ASSET: get_plotlyjs()}
