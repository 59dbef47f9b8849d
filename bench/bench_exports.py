"""Export speed: Excel writers side by side, CSV, a warm PDF and a warm PNG. Prints a table.

    .venv/bin/python bench/bench_exports.py            # everything (about a minute and a half)
    .venv/bin/python bench/bench_exports.py --quick    # skip the slow reference Excel writers

Each Excel writer runs in its own subprocess on the same 100,000 x 12 frame (2 dates, 3 texts,
4 money/float, 2 integers, 1 percent); peak RSS is that process's ru_maxrss, shown beside the RSS
it had before writing (Python + pandas + the frame), so "added" is what the writer itself costs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROWS, COLS = 100_000, 12
MONEY = '"$"#,##0.00;-"$"#,##0.00'
WRITERS = (
    "nexpo",
    "nexpo-bare",
    "pyexcelerate",
    "rustpy-xlsxwriter",
    "xlsxwriter-constant-memory",
    "xlsxwriter",
    "openpyxl-write-only",
)
SLOW = {"pyexcelerate", "xlsxwriter", "xlsxwriter-constant-memory", "openpyxl-write-only"}


def frame():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "created_at": pd.date_range("2024-01-01", periods=ROWS, freq="min"),
            "day": pd.date_range("1990-01-01", periods=ROWS, freq="D"),
            "customer_id": [f"cus_{i:06d}" for i in range(ROWS)],
            "processor": rng.choice(["stripe", "paypal", "adyen", "braintree"], ROWS),
            "plan": rng.choice(["basic", "pro", "enterprise"], ROWS),
            "revenue": rng.normal(120, 40, ROWS).round(2),
            "mrr": rng.normal(60, 15, ROWS).round(2),
            "refunds": rng.normal(4, 1, ROWS).round(2),
            "fees": rng.normal(3, 0.5, ROWS).round(4),
            "seats": rng.integers(1, 500, ROWS),
            "events": rng.integers(0, 100_000, ROWS),
            "churn_rate": rng.random(ROWS),
        }
    )


def report(widgets):
    from exports.result import ReportResult

    return ReportResult(title="Bench", period_label="Nov 1, 2026 – Nov 30, 2026", generated_at=datetime.now(ZoneInfo("UTC")),
                        timezone="UTC", currency="USD", widgets=widgets)  # fmt: skip


def table_widget(df):
    from datetime import date

    from engine.generate import WidgetResult
    from engine.periods import Window
    from engine.spec import WidgetSpec

    spec = WidgetSpec(
        id="big",
        type="table",
        title="Transactions",
        metric="x",
        options={"format": "money", "y": ["revenue", "mrr", "refunds"]},
    )
    return WidgetResult(
        widget=spec,
        window=Window(date(2026, 11, 1), date(2026, 11, 30)),
        frame=df,
        row_count=len(df),
    )


# -- Excel writers (each called in its own process) -----------------------------------------------
def prepare_nexpo(df):
    """The ReportResult the renderer gets in the app (built before the clock starts)."""
    return report([table_widget(df)])


def prepare_nexpo_bare(df):
    """The same report from plain objects, so the process never imports the engine (pydantic,
    SQLAlchemy, DuckDB...): the peak RSS is then the renderer's alone on top of pandas + the frame."""
    from types import SimpleNamespace

    from exports.result import ReportResult

    spec = SimpleNamespace(
        id="big",
        type="table",
        title="Transactions",
        metric="x",
        options={"format": "money", "y": ["revenue", "mrr", "refunds"]},
    )
    window = SimpleNamespace(start=datetime(2026, 11, 1).date(), end=datetime(2026, 11, 30).date())
    widget = SimpleNamespace(
        widget=spec,
        window=window,
        frame=df,
        row_count=len(df),
        error=None,
        value=None,
        previous=None,
        change=None,
    )
    return ReportResult(
        title="Bench",
        period_label="Nov 2026",
        generated_at=datetime.now(ZoneInfo("UTC")),
        timezone="UTC",
        currency="USD",
        widgets=[widget],
    )


def write_nexpo(result, path):
    from exports.excel import render_excel
    from exports.result import ExportLimits

    render_excel(result, path, limits=ExportLimits(max_rows=ROWS))


def write_xlsxwriter(df, path, constant_memory=False):
    import xlsxwriter

    book = xlsxwriter.Workbook(path, {"constant_memory": constant_memory})
    ws = book.add_worksheet("Transactions")
    fmts = {"date": book.add_format({"num_format": "yyyy-mm-dd"}), "dt": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "money": book.add_format({"num_format": MONEY}), "pct": book.add_format({"num_format": "0.0%"})}  # fmt: skip
    kinds = ["dt", "date", None, None, None, "money", "money", "money", None, None, None, "pct"]
    ws.write_row(0, 0, list(df.columns), book.add_format({"bold": True}))
    ws.freeze_panes(1, 0)
    for r, row in enumerate(df.itertuples(index=False), start=1):
        for c, v in enumerate(row):
            k = kinds[c]
            if k in ("dt", "date"):
                ws.write_datetime(r, c, v.to_pydatetime(), fmts[k])
            elif k:
                ws.write_number(r, c, v, fmts[k])
            else:
                ws.write(r, c, v)
    book.close()


def write_openpyxl(df, path):
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    ws = book.create_sheet("Transactions")
    ws.freeze_panes = "A2"
    formats = [
        "yyyy-mm-dd hh:mm:ss",
        "yyyy-mm-dd",
        None,
        None,
        None,
        MONEY,
        MONEY,
        MONEY,
        None,
        None,
        None,
        "0.0%",
    ]
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        cells = []
        for v, f in zip(row, formats, strict=True):
            cell = WriteOnlyCell(ws, value=v.to_pydatetime() if f and f.startswith("yyyy") else v)
            if f:
                cell.number_format = f
            cells.append(cell)
        ws.append(cells)
    book.save(path)


def write_pyexcelerate(df, path):
    from pyexcelerate import Style, Workbook
    from pyexcelerate.Format import Format

    book = Workbook()
    rows = [list(df.columns)] + [
        [v.to_pydatetime() if hasattr(v, "to_pydatetime") else v for v in r]
        for r in df.itertuples(index=False)
    ]
    ws = book.new_sheet("Transactions", data=rows)
    for col, fmt in (
        (1, "yyyy-mm-dd hh:mm:ss"),
        (2, "yyyy-mm-dd"),
        (6, MONEY),
        (7, MONEY),
        (8, MONEY),
        (12, "0.0%"),
    ):
        ws.set_col_style(col, Style(format=Format(fmt)))
    book.save(path)


def write_rustpy(df, path):
    from rustpy_xlsxwriter import FastExcel

    FastExcel(path).freeze(row=1, col=0).sheet("Transactions", df).save()


PRELOAD = {"nexpo": "exports.excel", "nexpo-bare": "exports.excel", "xlsxwriter": "xlsxwriter", "xlsxwriter-constant-memory": "xlsxwriter",
           "openpyxl-write-only": "openpyxl", "pyexcelerate": "pyexcelerate", "rustpy-xlsxwriter": "rustpy_xlsxwriter"}  # fmt: skip


def excel_child(name: str, path: str) -> None:
    import importlib

    importlib.import_module(PRELOAD[name])  # imports are not part of the measured write
    data = frame()
    if name == "nexpo":
        data = prepare_nexpo(data)
    elif name == "nexpo-bare":
        data = prepare_nexpo_bare(data)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    before, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    {"nexpo": write_nexpo, "nexpo-bare": write_nexpo, "xlsxwriter": write_xlsxwriter, "xlsxwriter-constant-memory": lambda d, p: write_xlsxwriter(d, p, True),
     "openpyxl-write-only": write_openpyxl, "pyexcelerate": write_pyexcelerate, "rustpy-xlsxwriter": write_rustpy}[name](data, path)  # fmt: skip
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "peak_mb": peak / 1024,
                "before_mb": before / 1024,
                "size_mb": Path(path).stat().st_size / 1e6,
            }
        )
    )


def run_excel(name: str, tmp: Path) -> dict:
    path = tmp / f"{name}.xlsx"
    out = subprocess.run(
        [sys.executable, __file__, "--excel-child", name, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode:
        return {
            "error": out.stderr.strip().splitlines()[-1]
            if out.stderr.strip()
            else f"exit {out.returncode}"
        }
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the other formats (in this process, warm) ----------------------------------------------------
def median_time(fn, runs: int = 5) -> tuple[float, float, float]:
    """Median and worst wall time, and the median CPU time of this process, over `runs` calls."""
    times, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(times), max(times), statistics.median(cpu)


def bench_csv(tmp: Path) -> tuple[float, float, float]:
    from exports.csv import render_csv
    from exports.result import ExportLimits

    r = report([table_widget(frame())])
    return median_time(lambda: render_csv(r, tmp / "b.csv", limits=ExportLimits(max_rows=ROWS)))


def six_widgets():
    from tests.exports.factories import (
        churn_card,
        customers_card,
        customers_table,
        mrr_card,
        processor_bar,
        revenue_line,
    )

    return [
        mrr_card(),
        churn_card(),
        customers_card(),
        revenue_line(),
        processor_bar(),
        customers_table(60),
    ]


def bench_pdf(tmp: Path) -> tuple[float, float, float, float]:
    from exports.chromium import printer
    from exports.pdf import render_pdf

    started = time.perf_counter()
    printer().start()
    r = report(six_widgets())
    render_pdf(r, tmp / "warmup.pdf")
    cold = time.perf_counter() - started
    return (*median_time(lambda: render_pdf(r, tmp / "b.pdf")), cold)


def bench_png(tmp: Path) -> tuple[float, float, float, float]:
    from exports.images import render_image, start_image_server
    from tests.exports.factories import revenue_line

    started = time.perf_counter()
    start_image_server()
    r = report([revenue_line()])
    render_image(r, tmp / "warmup.png", "png")
    cold = time.perf_counter() - started
    return (*median_time(lambda: render_image(r, tmp / "b.png", "png")), cold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="skip the slow reference Excel writers"
    )
    parser.add_argument(
        "--excel-child", nargs=2, metavar=("WRITER", "PATH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.excel_child:
        excel_child(*args.excel_child)
        return
    print(f"# {datetime.now():%Y-%m-%d %H:%M}, {_cpu()}\n")
    print("| export | wall time | CPU time | peak RSS (before writing; added) | note |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name in WRITERS:
            if args.quick and name in SLOW:
                continue
            # Fast writers run three times (median); the slow references once.
            runs = [run_excel(name, tmp) for _ in range(1 if name in SLOW else 3)]
            ok = sorted((r for r in runs if "error" not in r), key=lambda r: r["seconds"])
            m = ok[len(ok) // 2] if ok else runs[0]
            label = f"Excel {ROWS:,}x{COLS}: {name}"
            if "error" in m:
                print(f"| {label} | failed | | | {m['error'][:80]} |")
                continue
            runs_note = "median of 3" if len(ok) == 3 else "1 run"
            rss = f"{m['peak_mb']:.0f} MB ({m['before_mb']:.0f} MB; +{m['peak_mb'] - m['before_mb']:.0f} MB)"
            print(
                f"| {label} | {m['seconds']:.2f} s | {m['cpu']:.2f} s | {rss} | {runs_note}; {m['size_mb']:.1f} MB file |"
            )
        median, worst, cpu = bench_csv(tmp)
        print(
            f"| CSV {ROWS:,}x{COLS} | {median:.2f} s (max {worst:.2f}) | {cpu:.2f} s | | median of 5 |"
        )
        median, worst, cpu, cold = bench_pdf(tmp)
        print(
            f"| PDF, 6 widgets (3 cards, 2 charts, 60-row table), warm | {median:.2f} s (max {worst:.2f}) | {cpu:.2f} s (Python side) | "
            f"| median of 5; first call, with browser start: {cold:.1f} s |"
        )
        median, worst, cpu, cold = bench_png(tmp)
        print(
            f"| PNG of one widget (960x480 @2x), warm | {median:.2f} s (max {worst:.2f}) | {cpu:.2f} s (Python side) | "
            f"| median of 5; first call, with kaleido start: {cold:.1f} s |"
        )


def _cpu() -> str:
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = "unknown CPU"
    import os

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{os.cpu_count()} cores, {model}, load average {load}"


if __name__ == "__main__":
    main()
