"""The PDF read back as a reader sees it: pdftotext finds the numbers, tables repeat their header."""

from __future__ import annotations

import re
import subprocess

import pytest

from exports import ExportLimits, ExportTimeoutError, render
from exports.pdf import footer_html, report_html
from tests.exports.factories import customers_table, report, revenue_line


def pdftotext(path, *args: str) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", *args, str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def pages(path) -> list[str]:
    return pdftotext(path).split("\f")[:-1]


@pytest.fixture(scope="module")
def pdf(tmp_path_factory, chromium_printer, poppler):
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    render(report(), "pdf", path)
    return path


def test_first_page_has_title_period_filters_time_zone_and_card_values(pdf):
    first = pages(pdf)[0]
    assert "Revenue overview" in first
    assert "Nov 1, 2026 – Nov 30, 2026" in first
    assert "plan = pro; country = DE" in first
    assert "2026-11-30 14:05 CET (Europe/Berlin)" in first
    for shown in ("$12,345.67", "▲ 12.2% vs previous period", "4.2%", "321"):
        assert shown in first


def test_charts_are_vector_with_their_axis_labels_as_text(pdf):
    text = pages(pdf)[0]
    assert (
        "$1,300" in text and "stripe" in text and "paypal" in text and "Revenue (7-day avg)" in text
    )
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True).stdout
    assert len(images.strip().splitlines()) <= 2, (
        "charts must be drawn as vectors, not embedded bitmaps"
    )


def test_table_spans_pages_with_its_header_on_every_page_and_no_row_lost(pdf):
    all_pages = pages(pdf)
    assert len(all_pages) >= 3
    header = re.compile(r"Customer ID\s+Signup date\s+Plan\s+MRR\s+Seats")
    table_pages = [p for p in all_pages if "cus_0" in p]
    assert len(table_pages) >= 3 and all(header.search(p) for p in table_pages)
    found = re.findall(
        r"cus_(\d{4})\s+2026-\d\d-\d\d\s+(?:basic|pro)\s+\$([\d,.]+)", "\n".join(all_pages)
    )
    assert [int(n) for n, _ in found] == list(range(1, 251)), "every row exactly once, none cut"
    assert found[-1][1] == "321.25" and found[0][1] == "10.00"


def test_every_page_is_numbered(pdf):
    all_pages = pages(pdf)
    total = len(all_pages)
    for n, page in enumerate(all_pages, start=1):
        assert f"Page {n} of {total}" in page


def test_first_page_renders_to_an_image(pdf, tmp_path):
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    png = next(tmp_path.glob("page*.png"))
    data = png.read_bytes()
    assert (
        data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == 496
    )  # A4 at 60 dpi


def test_a_long_table_is_cut_for_the_pdf_with_a_note(tmp_path, chromium_printer, poppler):
    path = tmp_path / "t.pdf"
    render(
        report(customers_table(250, row_count=900)), "pdf", path, limits=ExportLimits(max_rows=40)
    )
    text = pdftotext(path)
    assert "cus_0040" in text and "cus_0041" not in text
    assert "Truncated at 40 of 900 rows (REPORT_MAX_ROWS)." in text


def test_report_html_is_static_and_escapes_user_text():
    r = report(revenue_line())
    r.title = "<script>alert(1)</script> & co"
    page = report_html(r, {"daily-revenue": "<svg id='x'></svg>"}, ExportLimits())
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<svg id='x'></svg>" in page
    assert "&lt;script&gt;" in footer_html(r)


def test_a_pdf_past_its_time_limit_raises_a_clear_error(tmp_path, chromium_printer):
    with pytest.raises(ExportTimeoutError) as err:
        render(report(), "pdf", tmp_path / "slow.pdf", limits=ExportLimits(timeout_seconds=0.001))
    assert "0.001 s limit" in err.value.user_message
    assert not (tmp_path / "slow.pdf").exists()


def test_concurrent_pdfs_from_several_threads_each_get_their_own_report(
    tmp_path, chromium_printer, poppler
):
    from concurrent.futures import ThreadPoolExecutor

    from tests.exports.factories import mrr_card, processor_bar

    def one(i: int) -> None:
        r = report(mrr_card(), processor_bar(), revenue_line())
        r.title = f"Report number {i}"
        render(r, "pdf", tmp_path / f"r{i}.pdf")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(4)))
    for i in range(4):
        text = pdftotext(tmp_path / f"r{i}.pdf")
        assert f"Report number {i}" in text
        assert all(f"Report number {j}" not in text for j in range(4) if j != i)


def test_a_cold_printer_started_by_several_jobs_at_once_launches_one_browser(tmp_path, poppler):
    # Two first exports at once used to launch two browsers, the second closing the first's page.
    from concurrent.futures import ThreadPoolExecutor

    from exports.chromium import ChromiumPrinter

    printer = ChromiumPrinter()
    try:
        html = "<html><body><h1>Cold start {i}</h1></body></html>"
        with ThreadPoolExecutor(max_workers=4) as pool:
            pdfs = list(
                pool.map(
                    lambda i: printer.pdf(
                        html.format(i=i), footer_html="<span></span>", timeout=60
                    ),
                    range(4),
                )
            )
        for i, data in enumerate(pdfs):
            path = tmp_path / f"cold{i}.pdf"
            path.write_bytes(data)
            assert f"Cold start {i}" in pdftotext(path)
    finally:
        printer.close()
