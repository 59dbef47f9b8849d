"""PNG, SVG and JPG of a widget through the warm kaleido server; concurrent requests get their own file."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from engine.generate import WidgetResult
from exports import ExportError, render
from tests.exports.factories import WINDOW, mrr_card, report, revenue_line, widget


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def jpg_size(data: bytes) -> tuple[int, int]:
    assert data[:3] == b"\xff\xd8\xff"
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    raise AssertionError("no SOF marker")


def test_png_svg_and_jpg_have_their_magic_bytes_and_size(tmp_path, image_server):
    r = report(revenue_line())
    render(r, "png", tmp_path / "w.png")
    render(r, "jpg", tmp_path / "w.jpg")
    render(r, "svg", tmp_path / "w.svg")
    assert png_size((tmp_path / "w.png").read_bytes()) == (1920, 960)  # 960 x 480 at scale 2
    assert jpg_size((tmp_path / "w.jpg").read_bytes()) == (1920, 960)
    svg = ET.parse(tmp_path / "w.svg").getroot()
    assert svg.tag.endswith("svg") and (svg.get("width"), svg.get("height")) == ("960", "480")
    text = (tmp_path / "w.svg").read_text()
    assert "Daily revenue" in text and "$1,300" in text


def test_the_widget_asked_for_is_drawn_and_a_card_is_an_indicator(tmp_path, image_server):
    render(report(mrr_card(), revenue_line()), "svg", tmp_path / "card.svg", widget_id="mrr")
    text = (tmp_path / "card.svg").read_text()
    assert "MRR" in text and "12,345.67" in text and "12.2% vs previous period" in text


def test_a_table_widget_has_no_image(tmp_path, image_server):
    table = WidgetResult(
        widget=widget("t", "table", "T"), window=WINDOW, frame=pd.DataFrame({"a": [1]}), row_count=1
    )
    with pytest.raises(ExportError):
        render(report(table), "png", tmp_path / "t.png")
    assert not (tmp_path / "t.png").exists()


def test_ten_concurrent_renders_each_get_their_own_image(tmp_path, image_server):
    def one(i: int) -> tuple[int, str]:
        frame = pd.DataFrame(
            {
                "date": pd.date_range("2026-11-01", periods=5),
                "revenue": [i * 100.0 + d for d in range(5)],
            }
        )
        spec = widget(
            f"chart-{i}", "line", f"Chart number {i}", x="date", y=["revenue"], format="number"
        )
        r = report(WidgetResult(widget=spec, window=WINDOW, frame=frame, row_count=5))
        fmt = "svg" if i % 2 else "png"
        path = tmp_path / f"c{i}.{fmt}"
        from exports.images import render_image

        render_image(r, path, fmt, width=400 + 10 * i, height=300, scale=1)
        return i, fmt

    with ThreadPoolExecutor(max_workers=10) as pool:
        done = list(pool.map(one, range(10)))
    for i, fmt in done:
        data = (tmp_path / f"c{i}.{fmt}").read_bytes()
        if fmt == "png":
            assert png_size(data) == (400 + 10 * i, 300)
        else:
            svg = data.decode()
            assert f"Chart number {i}<" in svg and f'width="{400 + 10 * i}"' in svg
            assert all(f"Chart number {j}<" not in svg for j in range(10) if j != i)


def test_a_pie_is_drawn_as_on_the_dashboard(tmp_path, image_server):
    frame = pd.DataFrame({"processor": ["stripe", "paypal"], "revenue": [5000.5, 3000.25]})
    spec = widget(
        "by-processor",
        "pie",
        "Revenue by processor",
        names="processor",
        value="revenue",
        format="money",
    )
    pie = WidgetResult(widget=spec, window=WINDOW, frame=frame, row_count=2)
    render(report(pie), "svg", tmp_path / "pie.svg")
    text = (tmp_path / "pie.svg").read_text()
    assert "Revenue by processor" in text and "stripe" in text and "paypal" in text
