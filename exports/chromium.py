"""A headless Chromium kept open for the life of the process, driven over DevTools by Playwright.

Playwright's sync API is tied to the thread that started it, and Dash and Flask serve requests from
many threads; so the browser lives in one background thread running an asyncio loop, and callers
submit coroutines to it and wait for the answer with a timeout. Two kinds of pages:

- one chart page with plotly.js loaded once, which turns figures into SVG with `Plotly.toImage`
  (the call kaleido makes), so a PDF's charts are the screen's figures, as vector graphics;
- a fresh page per PDF, JavaScript off (the report HTML is static), printed with `Page.printToPDF`.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import json
import threading
from collections.abc import Coroutine
from typing import Any

from plotly.offline import get_plotlyjs

from exports.result import ExportError, ExportTimeoutError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
_SVG_JS = """async ({figures}) => Promise.all(figures.map(async (f) => {
  const url = await Plotly.toImage(JSON.parse(f.figure), {format: 'svg', width: f.width, height: f.height});
  return decodeURIComponent(url.slice(url.indexOf(',') + 1));
}))"""


class ChromiumPrinter:
    """One warm browser; `svgs()` and `pdf()` are safe to call from any thread."""

    def __init__(self, executable: str = CHROMIUM, args: list[str] | None = None) -> None:
        self.executable = executable
        self.args = args or CHROMIUM_ARGS
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._playwright: Any = None
        self._browser: Any = None
        self._chart_page: Any = None
        self._print_context: Any = None
        self._chart_lock: asyncio.Lock | None = None
        # Two first jobs at once must not both launch a browser and close each other's.
        self._start_lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> None:
        """Start the loop thread and the browser (idempotent; ~1-2 s the first time)."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="chromium-printer", daemon=True
                )
                self._thread.start()
                self._loop = loop
                atexit.register(self.close)
        self._call(self._ensure_browser(), timeout, "starting Chromium")

    def close(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        with contextlib.suppress(Exception):  # closing a browser that already died
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=15)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(timeout=5)

    async def _ensure_browser(self) -> None:
        if self._browser is not None and self._browser.is_connected():
            return
        async with self._start_lock:
            if self._browser is None or not self._browser.is_connected():
                await self._launch()

    async def _launch(self) -> None:
        from playwright.async_api import async_playwright

        await self._shutdown()
        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=self.executable, args=self.args
        )
        charts = await self._browser.new_context()
        self._chart_page = await charts.new_page()
        await self._chart_page.set_content(
            "<!doctype html><html><head><meta charset='utf-8'></head><body></body></html>"
        )
        await self._chart_page.add_script_tag(content=get_plotlyjs())
        self._print_context = await self._browser.new_context(java_script_enabled=False)
        # The report is self-contained: nothing it contains may reach the network or the disk.
        await self._print_context.route("**/*", lambda route: route.abort())
        self._chart_lock = asyncio.Lock()

    async def _shutdown(self) -> None:
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
        self._browser = self._playwright = self._chart_page = self._print_context = None

    # -- work -----------------------------------------------------------------------------------
    def svgs(self, figures: list[tuple[str, int, int]], timeout: float) -> list[str]:
        """SVG documents for (figure JSON, width, height) items, drawn by plotly.js in the warm page."""
        if not figures:
            return []
        return self._call(self._svgs(figures), timeout, "drawing the charts")

    async def _svgs(self, figures: list[tuple[str, int, int]]) -> list[str]:
        await self._ensure_browser()
        payload = [{"figure": f, "width": w, "height": h} for f, w, h in figures]
        async with self._chart_lock:
            return await self._chart_page.evaluate(_SVG_JS, {"figures": payload})

    def pdf(self, html: str, *, footer_html: str, timeout: float) -> bytes:
        """`html` printed to PDF (A4, the page's own @page size and margins) with `footer_html` on every page."""
        return self._call(self._pdf(html, footer_html), timeout, "printing the PDF")

    async def _pdf(self, html: str, footer_html: str) -> bytes:
        await self._ensure_browser()
        page = await self._print_context.new_page()
        try:
            await page.set_content(html, wait_until="load")
            return await page.pdf(
                print_background=True,
                prefer_css_page_size=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=footer_html,
            )
        finally:
            await page.close()

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float, what: str) -> Any:
        loop = self._loop
        if loop is None:
            self.start()
            loop = self._loop
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout=max(timeout, 0.001))
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ExportTimeoutError(timeout, f"PDF export ({what})") from None
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(
                f"Chromium failed while {what}: {exc}",
                "The PDF could not be produced. The error was logged.",
            ) from exc


_printer: ChromiumPrinter | None = None
_printer_lock = threading.Lock()


def printer(executable: str | None = None) -> ChromiumPrinter:
    """The process's shared printer, created (not yet started) on first use."""
    global _printer
    with _printer_lock:
        if _printer is None:
            _printer = ChromiumPrinter(executable or CHROMIUM)
        return _printer


def figure_json(fig: Any) -> str:
    """A figure as plotly.js JSON (plotly's own encoder: dates, numpy, NaN handled)."""
    return fig.to_json() if hasattr(fig, "to_json") else json.dumps(fig)
