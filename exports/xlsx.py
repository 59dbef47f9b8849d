"""A small streaming XLSX writer: typed cells column by column, shared styles, native charts.

An .xlsx file is a zip of SpreadsheetML parts. Rows are turned into XML a chunk of rows at a time
(one list comprehension per column, then one join per row) and streamed into the zip entry, so a
100,000 x 12 sheet takes about a second and a few tens of MB, where general-purpose writers that
build a Python object per cell take 10-28 s (bench/bench_exports.py measures them side by side).

Only what the reports need: numbers, dates, datetimes, booleans and text (shared strings), a fixed
style table, column widths, a frozen header row, an autofilter, internal hyperlinks, and line,
area and bar charts that reference the sheet's own cells.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

import numpy as np
import pandas as pd

from exports.columns import neutralise

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
NS_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
CT = "application/vnd.openxmlformats-officedocument"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
EXCEL_EPOCH_DAYS = 25569  # the serial number of 1970-01-01 in Excel's 1900 date system
MAX_SHEET_NAME = 31
MAX_ROWS = 1_048_576
MAX_CELL_TEXT = 32_767
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")

# Cell styles: name -> (number format or None, font id, fill id, border id, alignment xml).
# Fonts: 0 normal, 1 bold, 2 title, 3 italic note, 4 link. Fills: 2 header grey. Borders: 1 bottom.
STYLE_NAMES = (
    "default",
    "header",
    "title",
    "label",
    "note",
    "link",
    "date",
    "datetime",
    "money",
    "percent",
    "integer",
    "number",
)


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def dimension_ref(rows: int, cols: int) -> str:
    """The used range of a sheet of `rows` x `cols` cells from A1: 'A1:K123' ('A1' when empty)."""
    if rows <= 1 and cols <= 1:
        return "A1"
    return f"A1:{column_letter(max(cols, 1) - 1)}{max(rows, 1)}"


def escape(text: str) -> str:
    return (
        _ILLEGAL.sub("", text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def sheet_ref(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def safe_sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique sheet name: no []:*?/\\, at most 31 characters, unique ignoring case."""
    base = _SHEET_BAD.sub(" ", name).strip().strip("'")[:MAX_SHEET_NAME] or "Sheet"
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = base[: MAX_SHEET_NAME - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


@dataclass
class Series:
    """One chart series: the header cell naming it and the column holding its values."""

    name_col: int
    value_col: int
    color: str


@dataclass
class Chart:
    """A native chart over rows [first_row, last_row] (1-based) of the sheet it is drawn on."""

    kind: str  # line | area | bar | stacked_bar
    title: str
    category_col: int
    series: list[Series]
    first_row: int
    last_row: int
    category_format: str | None = None
    value_format: str = "General"
    anchor_col: int = 0
    anchor_row: int = 0
    width_px: int = 720
    height_px: int = 360


@dataclass
class _SheetInfo:
    name: str
    charts: list[Chart] = field(default_factory=list)
    filter_ref: str | None = None
    print_titles: bool = False


class Workbook:
    """Write sheets one after another into `fh`; `close()` writes the workbook parts that index them."""

    def __init__(
        self, fh: BinaryIO, *, currency_format: str = '"$"#,##0.00', compresslevel: int = 1
    ) -> None:
        self.zip = zipfile.ZipFile(
            fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        )
        self.sheets: list[_SheetInfo] = []
        self._names: set[str] = set()
        self._strings: dict[str, int] = {}
        formats = {
            "date": "yyyy-mm-dd",
            "datetime": "yyyy-mm-dd hh:mm:ss",
            "money": currency_format,
            "percent": "0.00%",
            "integer": "#,##0",
            "number": "#,##0.00",
        }
        self.formats = formats
        self.style = {name: i for i, name in enumerate(STYLE_NAMES)}
        self._open: SheetWriter | None = None

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        """Release the zip after a failure (the caller discards the partial file)."""
        with contextlib.suppress(Exception):
            if self._open is not None:
                self._open._fh.close()
        with contextlib.suppress(Exception):
            self.zip.close()

    # -- sheets ---------------------------------------------------------------------------------
    def sheet(
        self,
        name: str,
        widths: Sequence[float],
        *,
        freeze_header: bool = False,
        extent: tuple[int, int] | None = None,
    ) -> SheetWriter:
        """Start the next sheet; it must be closed (`SheetWriter.close`) before the next one starts.
        `extent` (rows, columns) is the size the caller will write: the sheet's `<dimension>`,
        which comes before the streamed rows and which read-only readers (openpyxl) rely on."""
        info = _SheetInfo(safe_sheet_name(name, self._names))
        self.sheets.append(info)
        self._open = SheetWriter(self, info, len(self.sheets), widths, freeze_header, extent)
        return self._open

    def string_index(self, text: str) -> int:
        # Excel "repairs" (drops) longer cell texts; a formula-like text gets a leading quote.
        text = neutralise(text[:MAX_CELL_TEXT])
        index = self._strings.get(text)
        if index is None:
            index = self._strings[text] = len(self._strings)
        return index

    # -- closing --------------------------------------------------------------------------------
    def close(self) -> None:
        z = self.zip
        n = len(self.sheets)
        charts = [(i + 1, c) for i, s in enumerate(self.sheets) for c in s.charts]
        drawings = [i + 1 for i, s in enumerate(self.sheets) if s.charts]
        overrides = [("/xl/workbook.xml", f"{CT}.spreadsheetml.sheet.main+xml"), ("/xl/styles.xml", f"{CT}.spreadsheetml.styles+xml"),
                     ("/xl/sharedStrings.xml", f"{CT}.spreadsheetml.sharedStrings+xml"),
                     ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
                     ("/docProps/app.xml", f"{CT}.extended-properties+xml")]  # fmt: skip
        overrides += [
            (f"/xl/worksheets/sheet{i}.xml", f"{CT}.spreadsheetml.worksheet+xml")
            for i in range(1, n + 1)
        ]
        overrides += [(f"/xl/drawings/drawing{i}.xml", f"{CT}.drawing+xml") for i in drawings]
        overrides += [
            (f"/xl/charts/chart{k}.xml", f"{CT}.drawingml.chart+xml")
            for k in range(1, len(charts) + 1)
        ]
        z.writestr("[Content_Types].xml", XML_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   + "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in overrides) + "</Types>")  # fmt: skip
        z.writestr("_rels/.rels", _rels([("rId1", "officeDocument", "xl/workbook.xml"),
                                         ("rId2", "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties", "docProps/core.xml"),
                                         ("rId3", "extended-properties", "docProps/app.xml")]))  # fmt: skip
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        z.writestr("docProps/core.xml", XML_HEAD + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
                   'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                   f'<dc:creator>Nexpo Reports</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
                   f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified></cp:coreProperties>')  # fmt: skip
        z.writestr("docProps/app.xml", XML_HEAD + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
                   "<Application>Nexpo Reports</Application></Properties>")  # fmt: skip
        defined = []
        for i, s in enumerate(self.sheets):
            if s.filter_ref:
                defined.append(
                    f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">{escape(sheet_ref(s.name))}!{s.filter_ref}</definedName>'
                )
            if s.print_titles:
                defined.append(
                    f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">{escape(sheet_ref(s.name))}!$1:$1</definedName>'
                )
        z.writestr("xl/workbook.xml", XML_HEAD + f'<workbook xmlns="{NS_MAIN}" xmlns:r="{NS_REL}"><bookViews><workbookView activeTab="0"/></bookViews><sheets>'
                   + "".join(f'<sheet name="{escape(s.name)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, s in enumerate(self.sheets))
                   + "</sheets>" + (f"<definedNames>{''.join(defined)}</definedNames>" if defined else "") + "</workbook>")  # fmt: skip
        z.writestr("xl/_rels/workbook.xml.rels", _rels([(f"rId{i}", "worksheet", f"worksheets/sheet{i}.xml") for i in range(1, n + 1)]
                                                       + [(f"rId{n + 1}", "styles", "styles.xml"), (f"rId{n + 2}", "sharedStrings", "sharedStrings.xml")]))  # fmt: skip
        z.writestr("xl/styles.xml", self._styles_xml())
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
            fh.write(
                f'{XML_HEAD}<sst xmlns="{NS_MAIN}" count="{len(self._strings)}" uniqueCount="{len(self._strings)}">'.encode()
            )
            batch = []
            for text in self._strings:
                batch.append(f'<si><t xml:space="preserve">{escape(text)}</t></si>')
                if len(batch) >= 10_000:
                    fh.write("".join(batch).encode())
                    batch.clear()
            fh.write(("".join(batch) + "</sst>").encode())
        k = 0
        for i, s in enumerate(self.sheets, start=1):
            if not s.charts:
                continue
            anchors, rels = [], []
            for j, chart in enumerate(s.charts, start=1):
                k += 1
                z.writestr(f"xl/charts/chart{k}.xml", _chart_xml(chart, s.name))
                rels.append((f"rId{j}", "chart", f"../charts/chart{k}.xml"))
                anchors.append(_anchor_xml(chart, j))
            z.writestr(
                f"xl/drawings/drawing{i}.xml",
                XML_HEAD
                + f'<xdr:wsDr xmlns:xdr="{NS_XDR}" xmlns:a="{NS_A}">{"".join(anchors)}</xdr:wsDr>',
            )
            z.writestr(f"xl/drawings/_rels/drawing{i}.xml.rels", _rels(rels))
            z.writestr(
                f"xl/worksheets/_rels/sheet{i}.xml.rels",
                _rels([("rId1", "drawing", f"../drawings/drawing{i}.xml")]),
            )
        z.close()

    def _styles_xml(self) -> str:
        custom = {name: 164 + i for i, name in enumerate(self.formats)}
        numfmts = "".join(
            f'<numFmt numFmtId="{custom[n]}" formatCode="{escape(code)}"/>'
            for n, code in self.formats.items()
        )
        xfs = []
        for name in STYLE_NAMES:
            font, fill, border, align = 0, 0, 0, ""
            if name == "header":
                font, fill, border, align = 1, 2, 1, '<alignment vertical="center" wrapText="0"/>'
            elif name == "title":
                font = 2
            elif name == "label":
                font = 1
            elif name == "note":
                font = 3
            elif name == "link":
                font = 4
            fmt = custom.get(name, 0)
            xfs.append(f'<xf numFmtId="{fmt}" fontId="{font}" fillId="{fill}" borderId="{border}" xfId="0"'
                       + (' applyNumberFormat="1"' if fmt else "") + (' applyFont="1"' if font else "")
                       + (' applyFill="1"' if fill else "") + (' applyBorder="1"' if border else "")
                       + (f' applyAlignment="1">{align}</xf>' if align else "/>"))  # fmt: skip
        font = '<sz val="{sz}"/><color theme="1"/><name val="Calibri"/><family val="2"/><scheme val="minor"/>'
        return (XML_HEAD + f'<styleSheet xmlns="{NS_MAIN}"><numFmts count="{len(custom)}">{numfmts}</numFmts>'
                '<fonts count="5">'
                f"<font>{font.format(sz=11)}</font><font><b/>{font.format(sz=11)}</font><font><b/>{font.format(sz=14)}</font>"
                '<font><i/><sz val="11"/><color rgb="FFB45309"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font>'
                '<font><u/><sz val="11"/><color rgb="FF4F46E5"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font></fonts>'
                '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
                '<fill><patternFill patternType="solid"><fgColor rgb="FFEEF0F4"/><bgColor indexed="64"/></patternFill></fill></fills>'
                '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
                '<border><left/><right/><top/><bottom style="thin"><color rgb="FF9CA3AF"/></bottom><diagonal/></border></borders>'
                '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
                f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
                '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')  # fmt: skip


class SheetWriter:
    """Streams one worksheet: `row()` for a few styled cells, `columns()` for a typed block of rows."""

    def __init__(
        self,
        book: Workbook,
        info: _SheetInfo,
        number: int,
        widths: Sequence[float],
        freeze_header: bool,
        extent: tuple[int, int] | None = None,
    ) -> None:
        self.book, self.info, self.number = book, info, number
        self.next_row = 1
        self.max_col = 0
        self.extent = extent
        self.links: list[tuple[str, str, str]] = []
        self._fh = _BackgroundWriter(
            book.zip.open(f"xl/worksheets/sheet{number}.xml", "w", force_zip64=True)
        )
        view = (
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            if freeze_header
            else ""
        )
        selected = ' tabSelected="1"' if number == 1 else ""
        cols = "".join(
            f'<col min="{i + 1}" max="{i + 1}" width="{w:.2f}" customWidth="1"/>'
            for i, w in enumerate(widths)
        )
        dimension = f'<dimension ref="{dimension_ref(*extent)}"/>' if extent else ""
        self._write(XML_HEAD + f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_REL}"><sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>{dimension}<sheetViews><sheetView workbookViewId="0"{selected}>{view}</sheetView></sheetViews>'
                    '<sheetFormatPr defaultRowHeight="15"/>' + (f"<cols>{cols}</cols>" if cols else "") + "<sheetData>")  # fmt: skip

    @property
    def name(self) -> str:
        return self.info.name

    def _write(self, text: str) -> None:
        self._fh.write(text.encode("utf-8"))

    def row(self, cells: Sequence[object], styles: Sequence[str] | str = "default") -> int:
        """One row of single values (str, number, bool, date/datetime, None); returns its 1-based number."""
        r = self.next_row
        out = []
        for i, value in enumerate(cells):
            style = styles if isinstance(styles, str) else styles[i]
            out.append(self._cell(f"{column_letter(i)}{r}", value, self.book.style[style]))
        self._write(f'<row r="{r}">{"".join(out)}</row>')
        self.max_col = max(self.max_col, len(cells))
        self.next_row += 1
        return r

    def _cell(self, ref: str, value: object, s: int) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return f'<c r="{ref}" s="{s}"/>' if s else ""
        if isinstance(value, bool):
            return f'<c r="{ref}" s="{s}" t="b"><v>{int(value)}</v></c>'
        if isinstance(value, int | float | np.integer | np.floating):
            return f'<c r="{ref}" s="{s}"><v>{float(value)!r}</v></c>'
        if isinstance(value, datetime | pd.Timestamp) or hasattr(value, "toordinal"):
            return f'<c r="{ref}" s="{s}"><v>{excel_serial(value)!r}</v></c>'
        return f'<c r="{ref}" s="{s}" t="s"><v>{self.book.string_index(str(value))}</v></c>'

    def link(self, ref: str, sheet: str, text: str) -> None:
        """Make cell `ref` (already written) jump to cell A1 of `sheet`."""
        self.links.append((ref, f"{sheet_ref(sheet)}!A1", text))

    def columns(self, values: Sequence[tuple[str, np.ndarray | list]]) -> None:
        """A block of rows given column-wise: (kind, values) with kinds number|date|datetime|text|boolean
        plus the style names money|percent|integer; numbers/dates as float arrays (NaN = empty)."""
        if not values:
            return
        n = len(values[0][1])
        first = self.next_row
        if first + n - 1 > MAX_ROWS:
            raise ValueError(f"a sheet holds at most {MAX_ROWS:,} rows")
        rows = [str(r) for r in range(first, first + n)]
        cols = [self._column(i, kind, v, rows) for i, (kind, v) in enumerate(values)]
        parts = [
            f'<row r="{r}">{"".join(cells)}</row>'
            for r, cells in zip(rows, zip(*cols, strict=True), strict=True)
        ]
        self._write("".join(parts))
        self.max_col = max(self.max_col, len(values))
        self.next_row += n

    def _column(self, i: int, kind: str, values: np.ndarray | list, rows: list[str]) -> list[str]:
        letter = column_letter(i)
        s = self.book.style.get(kind, 0)
        if kind == "text":
            codes, uniques = pd.factorize(pd.Series(values, dtype="object"), use_na_sentinel=True)
            index = [self.book.string_index(_ILLEGAL.sub("", str(u))) for u in uniques]
            return [
                f'<c r="{letter}{r}" t="s"><v>{index[c]}</v></c>' if c >= 0 else ""
                for r, c in zip(rows, codes.tolist(), strict=True)
            ]
        if kind == "boolean":
            return [
                "" if v is None else f'<c r="{letter}{r}" t="b"><v>{int(v)}</v></c>'
                for r, v in zip(rows, values, strict=True)
            ]
        array = np.asarray(values, dtype="float64")
        if kind in ("date", "integer") and np.all(np.isnan(array) | (np.mod(array, 1) == 0)):
            texts = [None if v != v else str(int(v)) for v in array.tolist()]
        else:
            texts = [None if v != v else repr(v) for v in array.tolist()]
        head = f'" s="{s}"><v>'
        return [
            "" if v is None else f'<c r="{letter}{r}{head}{v}</v></c>'
            for r, v in zip(rows, texts, strict=True)
        ]

    def autofilter(self, first_row: int, last_row: int, ncols: int) -> None:
        self.info.filter_ref = (
            f"$A${first_row}:${column_letter(ncols - 1)}${max(last_row, first_row)}"
        )
        self.info.print_titles = True

    def chart(self, chart: Chart) -> None:
        self.info.charts.append(chart)

    def close(self) -> None:
        if self.extent and (self.next_row - 1 > self.extent[0] or self.max_col > self.extent[1]):
            raise ValueError(
                f"sheet {self.name!r}: wrote {self.next_row - 1} rows x {self.max_col} columns, "
                f"more than its declared dimension {self.extent[0]} x {self.extent[1]}"
            )
        tail = "</sheetData>"
        if self.info.filter_ref:
            tail += f'<autoFilter ref="{self.info.filter_ref.replace("$", "")}"/>'
        if self.links:
            tail += (
                "<hyperlinks>"
                + "".join(
                    f'<hyperlink ref="{ref}" location="{escape(loc)}" display="{escape(text)}"/>'
                    for ref, loc, text in self.links
                )
                + "</hyperlinks>"
            )
        tail += '<pageMargins left="0.5" right="0.5" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        tail += '<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
        if self.info.charts:
            tail += '<drawing r:id="rId1"/>'
        self._write(tail + "</worksheet>")
        self._fh.close()
        self.book._open = None


class _BackgroundWriter:
    """Deflates and writes a zip entry in a second thread while the caller builds the next chunk.

    zlib and crc32 release the GIL, so on two cores compression (~40% of the work) overlaps the
    XML building. Chunks keep their order (one thread, one FIFO queue); an error in the thread is
    raised in the caller at its next write or at close.
    """

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="xlsx-deflate", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._fh.write(data)
                except BaseException as exc:  # noqa: BLE001  (handed to the caller)
                    self._error = exc

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        try:
            if self._error is not None:
                raise self._error
        finally:
            self._fh.close()


def excel_serial(value: object) -> float:
    """A date or naive datetime as an Excel serial day number (1900 system)."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return (ts - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1) + EXCEL_EPOCH_DAYS


def serial_days(series: pd.Series) -> np.ndarray:
    """A naive datetime64 column as Excel serial numbers (NaN where missing), vectorised."""
    values = series.to_numpy(dtype="datetime64[us]")
    out = values.astype("int64").astype("float64") / 86_400_000_000 + EXCEL_EPOCH_DAYS
    out[np.isnat(values)] = np.nan
    return out


def _rels(items: list[tuple[str, str, str]]) -> str:
    body = "".join(
        f'<Relationship Id="{rid}" Type="{kind if kind.startswith("http") else NS_REL + "/" + kind}" Target="{target}"/>'
        for rid, kind, target in items
    )
    return XML_HEAD + f'<Relationships xmlns="{NS_PKG_REL}">{body}</Relationships>'


def _anchor_xml(chart: Chart, rid: int) -> str:
    emu = 9525
    return (f'<xdr:oneCellAnchor><xdr:from><xdr:col>{chart.anchor_col}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{chart.anchor_row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>'
            f'<xdr:ext cx="{chart.width_px * emu}" cy="{chart.height_px * emu}"/>'
            f'<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="{rid + 1}" name="Chart {rid}"/><xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr>'
            '<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
            f'<a:graphic><a:graphicData uri="{NS_C}"><c:chart xmlns:c="{NS_C}" xmlns:r="{NS_REL}" r:id="rId{rid}"/></a:graphicData></a:graphic>'
            "</xdr:graphicFrame><xdr:clientData/></xdr:oneCellAnchor>")  # fmt: skip


def _chart_xml(chart: Chart, sheet: str) -> str:
    ref = escape(sheet_ref(sheet))
    cat_col = column_letter(chart.category_col)
    cat_range = f"{ref}!${cat_col}${chart.first_row}:${cat_col}${chart.last_row}"
    cat = (f"<c:cat><c:numRef><c:f>{cat_range}</c:f></c:numRef></c:cat>" if chart.category_format
           else f"<c:cat><c:strRef><c:f>{cat_range}</c:f></c:strRef></c:cat>")  # fmt: skip
    series = []
    for i, s in enumerate(chart.series):
        col = column_letter(s.value_col)
        name_ref = f"{ref}!${column_letter(s.name_col)}$1"
        line = f'<c:spPr><a:ln w="{28575 if i else 19050}"><a:solidFill><a:srgbClr val="{s.color}"/></a:solidFill></a:ln></c:spPr>'
        fill = f'<c:spPr><a:solidFill><a:srgbClr val="{s.color}"/></a:solidFill></c:spPr>'
        body = f'<c:idx val="{i}"/><c:order val="{i}"/><c:tx><c:strRef><c:f>{name_ref}</c:f></c:strRef></c:tx>'
        val = f"<c:val><c:numRef><c:f>{ref}!${col}${chart.first_row}:${col}${chart.last_row}</c:f></c:numRef></c:val>"
        if chart.kind == "line":
            series.append(
                f'<c:ser>{body}{line}<c:marker><c:symbol val="none"/></c:marker>{cat}{val}<c:smooth val="0"/></c:ser>'
            )
        elif chart.kind == "area":
            series.append(f"<c:ser>{body}{fill}{cat}{val}</c:ser>")
        else:
            series.append(f'<c:ser>{body}{fill}<c:invertIfNegative val="0"/>{cat}{val}</c:ser>')
    axes = '<c:axId val="500100001"/><c:axId val="500100002"/>'
    if chart.kind == "line":
        plot = f'<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>{"".join(series)}<c:marker val="1"/>{axes}</c:lineChart>'
    elif chart.kind == "area":
        plot = f'<c:areaChart><c:grouping val="standard"/><c:varyColors val="0"/>{"".join(series)}{axes}</c:areaChart>'
    else:
        stacked = chart.kind == "stacked_bar"
        overlap = '<c:overlap val="100"/>' if stacked else ""
        plot = (f'<c:barChart><c:barDir val="col"/><c:grouping val="{"stacked" if stacked else "clustered"}"/><c:varyColors val="0"/>{"".join(series)}'
                f'<c:gapWidth val="80"/>{overlap}{axes}</c:barChart>')  # fmt: skip
    cat_fmt = escape(chart.category_format or "General")
    grid = '<c:spPr><a:ln w="6350"><a:solidFill><a:srgbClr val="E5E7EB"/></a:solidFill></a:ln></c:spPr>'
    cat_ax = ('<c:catAx><c:axId val="500100001"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/><c:axPos val="b"/>'
              f'<c:numFmt formatCode="{cat_fmt}" sourceLinked="0"/><c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="low"/>'
              '<c:crossAx val="500100002"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/><c:noMultiLvlLbl val="0"/></c:catAx>')  # fmt: skip
    val_ax = ('<c:valAx><c:axId val="500100002"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/><c:axPos val="l"/>'
              f'<c:majorGridlines>{grid}</c:majorGridlines><c:numFmt formatCode="{escape(chart.value_format)}" sourceLinked="0"/>'
              '<c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/><c:crossAx val="500100001"/>'
              '<c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx>')  # fmt: skip
    title = (f'<c:title><c:tx><c:rich><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="1200" b="1"/></a:pPr><a:r><a:rPr lang="en-US" sz="1200" b="1"/>'
             f'<a:t>{escape(chart.title)}</a:t></a:r></a:p></c:rich></c:tx><c:overlay val="0"/></c:title>')  # fmt: skip
    return (XML_HEAD + f'<c:chartSpace xmlns:c="{NS_C}" xmlns:a="{NS_A}" xmlns:r="{NS_REL}"><c:roundedCorners val="0"/><c:chart>{title}'
            f'<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/>{plot}{cat_ax}{val_ax}</c:plotArea>'
            '<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend><c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>')  # fmt: skip
