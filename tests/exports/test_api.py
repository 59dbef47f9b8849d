"""/api/export end to end through the Flask test client: create -> download -> read back as its reader.

Every file is compared with `engine.generate` for the same spec, period and user: the numbers the
dashboard shows. Job mechanics (timeout, cancel, purge, atomicity) are in test_jobs.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import threading
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from components.formats import cents, format_value
from engine.generate import generate
from engine.periods import resolve
from engine.templates import builtin_dashboards
from security import audit, tokens
from security.users import load_principal
from settings import PROJECT_ROOT
from store.models import Export, User
from tests.loaded_days import loaded_days

REPORT = "revenue_overview"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


# -- helpers ----------------------------------------------------------------------------------------


def services_of(app):
    return app.server.extensions["nexpo"]


def principal_of(app, username: str):
    store = services_of(app).store
    with store.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
    return load_principal(store, str(user_id))


def signed_in(app, username: str):
    """A new test client signed in as `username` through the login form."""
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post(
        "/login",
        data={"username": username, "password": "nexpo-demo", "csrf_token": token, "next": "/"},
    )
    return client


def create(client, fmt: str, **body):
    """The export as a job (`?wait=1`: its JSON once finished); test_api_file.py asks for the file."""
    body = {"report_id": REPORT, "period": "30d", **body}
    return client.post(f"/api/export/{fmt}?wait=1", json=body)


def download(client, fmt: str, **body) -> tuple[dict, object]:
    created = create(client, fmt, **body)
    assert created.status_code == 200, created.get_json()
    view = created.get_json()
    assert view["status"] == "succeeded", view
    response = client.get(view["download_url"])
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return view, response


@pytest.fixture(scope="module")
def expected(app):
    """What the dashboard shows the analyst for the revenue overview over 30 days, by widget id."""
    svc = services_of(app)
    spec = builtin_dashboards()[REPORT]
    window = resolve("30d", svc.settings.report_timezone)
    with app.server.app_context():
        results = generate(spec, window, principal_of(app, "manager"), svc, action="export")
    assert not [r.error for r in results if r.error]
    return {r.widget.id: r for r in results}


@pytest.fixture
def analyst(app, login, client):
    login("manager")
    return client


def disposition_name(response) -> str:
    match = re.search(r'filename="?([^";]+)"?', response.headers["Content-Disposition"])
    assert response.headers["Content-Disposition"].startswith("attachment")
    return match.group(1)


def in_unit(value: float, fmt: str) -> str:
    """A card value as a finance person expects it in a file: money in cents, a rate to 4
    decimals, a count as an integer (computed here with Decimal, apart from the renderers)."""
    if fmt == "money":
        return str(cents(value))
    if fmt == "percent":
        return str(float(Decimal(repr(value)).quantize(Decimal("0.0001"), ROUND_HALF_UP)))
    return str(int(value)) if float(value).is_integer() else str(round(value, 6))


# -- each format, read back ---------------------------------------------------------------------------


def test_csv_parses_and_equals_the_screen(analyst, expected):
    view, response = download(analyst, "csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    name = disposition_name(response)
    assert name == view["filename"] and re.fullmatch(
        r"revenue-overview_\d{4}-\d\d-\d\d_\d{4}-\d\d-\d\d\.csv", name
    )
    records = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    summary = records.index(["# Summary"])
    header = records[summary + 1]
    cards = {r[0]: dict(zip(header, r, strict=True)) for r in records[summary + 2 : summary + 6]}
    for wid in ("mrr", "arr", "paying-customers", "customer-churn"):
        assert cards[wid]["value"] == in_unit(expected[wid].value, cards[wid]["format"])
    start = records.index(["# Widget: Revenue by processor (revenue-by-processor)"])
    table = records[start + 1 : start + 1 + 1 + len(expected["revenue-by-processor"].frame)]
    frame = expected["revenue-by-processor"].frame
    assert table[0] == list(frame.columns)
    assert [r[0] for r in table[1:]] == list(frame["processor"])
    # Money to cents, as the screen shows it (never 15842.861845410203).
    assert [r[table[0].index("revenue")] for r in table[1:]] == [
        str(cents(float(v))) for v in frame["revenue"]
    ]


def test_json_parses_and_equals_the_screen(analyst, expected):
    view, response = download(analyst, "json")
    assert response.headers["Content-Type"] == "application/json"
    doc = json.loads(response.data)
    assert doc["schema"] == "nexpo.report/1" and doc["key"] == REPORT
    assert doc["period"]["start"] == view["period"]["start"]
    widgets = {w["id"]: w for w in doc["widgets"]}
    assert set(widgets) == set(expected)
    for wid in ("mrr", "arr", "paying-customers", "customer-churn"):
        value, fmt = widgets[wid]["value"], widgets[wid]["format"]
        assert value == float(in_unit(expected[wid].value, fmt))
    daily = widgets["daily-revenue"]
    frame = expected["daily-revenue"].frame
    assert daily["row_count"] == len(frame) == len(daily["rows"]) and not daily["truncated"]
    names = [c["name"] for c in daily["columns"]]
    got = pd.DataFrame(daily["rows"], columns=names)
    assert list(got["revenue"]) == [float(cents(float(v))) for v in frame["revenue"]]
    assert view["row_count"] == sum(len(w["rows"]) for w in doc["widgets"])


def test_xml_parses_and_equals_the_screen(analyst, expected):
    _, response = download(analyst, "xml")
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    root = ET.fromstring(response.data)
    assert root.tag == "report" and root.get("key") == REPORT
    widgets = {w.get("id"): w for w in root.iter("widget")}
    assert float(widgets["mrr"].find("card").get("value")) == pytest.approx(expected["mrr"].value)
    table = widgets["revenue-by-processor"].find("table")
    rows = [[v.text for v in r.findall("v")] for r in table.findall("r")]
    frame = expected["revenue-by-processor"].frame
    assert [r[0] for r in rows] == list(frame["processor"])
    assert int(table.get("row-count")) == len(frame)


def test_excel_reread_with_openpyxl_equals_the_data(analyst, expected, tmp_path):
    _, response = download(analyst, "excel")
    assert response.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert disposition_name(response).endswith(".xlsx")
    path = tmp_path / "r.xlsx"
    path.write_bytes(response.data)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[0] == "Summary"
    ws = (
        book["Daily revenue (7-day moving ave"]
        if "Daily revenue (7-day moving ave" in (book.sheetnames)
        else book[book.sheetnames[1]]
    )
    rows = list(ws.iter_rows(values_only=True))
    frame = expected["daily-revenue"].frame
    data = [r for r in rows[1:] if r[0] is not None]
    assert len(data) == len(frame)
    assert [r[0].date() for r in data] == [pd.Timestamp(d).date() for d in frame["date"]]
    assert [r[1] for r in data] == pytest.approx(list(frame["revenue"]))
    summary = [r for r in book["Summary"].iter_rows(values_only=True) if r and r[0]]
    mrr_row = next(r for r in summary if "MRR" in [str(c) for c in r])
    assert expected["mrr"].value in [c for c in mrr_row if isinstance(c, float)]
    # Read-only readers see every sheet's rows: the file carries its sheet dimensions.
    fast = openpyxl.load_workbook(path, read_only=True)
    try:
        for name in book.sheetnames:
            assert (fast[name].max_row, fast[name].max_column) == (
                book[name].max_row,
                book[name].max_column,
            ), name
        assert fast[ws.title].max_row == 1 + len(frame)
    finally:
        fast.close()


def test_pdf_shows_the_card_values_the_screen_shows(analyst, expected, tmp_path, poppler):
    view, response = download(analyst, "pdf")
    assert response.headers["Content-Type"] == "application/pdf"
    path = tmp_path / "r.pdf"
    path.write_bytes(response.data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    currency = "USD"
    for wid in ("mrr", "arr", "paying-customers", "customer-churn"):
        shown = format_value(
            expected[wid].value, expected[wid].widget.options.get("format", "number"), currency
        )
        assert shown in text, (wid, shown)
    assert "Revenue overview" in text and "Page 1 of" in text
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            str(path),
            str(ARTIFACTS / "api-export"),
        ],
        check=True,
    )
    assert list(ARTIFACTS.glob("api-export*.png"))


@pytest.mark.parametrize(
    ("fmt", "magic"),
    [("png", b"\x89PNG"), ("jpg", b"\xff\xd8\xff"), ("svg", b"<svg"), ("image", b"\x89PNG")],
)
def test_images_of_one_widget(analyst, fmt, magic, image_server):
    view, response = download(analyst, fmt, widget_id="revenue-by-processor")
    assert magic in response.data[:200]
    assert disposition_name(response).startswith("revenue-overview_revenue-by-processor_")
    assert view["widget_id"] == "revenue-by-processor"


@pytest.mark.parametrize("fmt", ["png", "svg", "jpg", "image"])
def test_an_image_of_a_card_is_400_naming_the_formats(analyst, fmt, image_server):
    response = create(analyst, fmt, widget_id="mrr")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_format", body
    message = body["message"]
    assert "'MRR'" in message and "a metric card" in message and "no chart" in message, message
    allowed = message.split("choose one of ")[1].split(", ")
    assert allowed and not {"png", "svg", "jpg"} & set(allowed)
    assert set(allowed) <= {"pdf", "excel", "csv", "json", "xml"}
    # The chart of the same report still exports as an image.
    assert create(analyst, "svg", widget_id="daily-revenue").status_code == 200


def test_a_widget_export_holds_only_that_widget(analyst, expected):
    _, response = download(analyst, "json", widget_id="daily-revenue")
    doc = json.loads(response.data)
    assert [w["id"] for w in doc["widgets"]] == ["daily-revenue"]


# -- errors and access ---------------------------------------------------------------------------------


def test_viewer_may_not_export(app):
    viewer = signed_in(app, "viewer")
    response = create(viewer, "csv")
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"
    denied = audit.query(services_of(app).store, action="export.create", outcome="denied")
    assert any(e.username == "viewer" for e in denied.items)


def test_unknown_report_is_404(analyst):
    response = create(analyst, "csv", report_id="no-such-report")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("fmt", "body", "code"),
    [
        ("docx", {}, "bad_format"),
        ("csv", {"period": "1y"}, "bad_period"),
        ("csv", {"period": "custom", "start": "2026-02-01", "end": "2026-01-01"}, "bad_period"),
        ("csv", {"widget_id": "nope"}, "bad_widget"),
        ("csv", {"filters": {"start": "2020-01-01"}}, "bad_filters"),
        ("csv", {"filters": {"no_such_filter": "x"}}, "bad_filters"),
        ("csv", {"filters": "plan=pro"}, "bad_request"),
    ],
)
def test_bad_requests_are_400(analyst, fmt, body, code):
    response = create(analyst, fmt, **body)
    assert response.status_code == 400
    assert response.get_json()["error"] == code, response.get_json()


def test_not_signed_in_is_401(app):
    response = app.server.test_client().post("/api/export/csv", json={"report_id": REPORT})
    assert response.status_code == 401


def test_a_format_left_out_of_api_export_formats_is_404_naming_it(app, analyst, monkeypatch):
    svc = services_of(app)
    monkeypatch.setattr(svc, "settings", svc.settings.replace(api_export_formats=("csv",)))
    refused = create(analyst, "json")
    assert refused.status_code == 404
    assert refused.get_json()["message"] == "JSON export is turned off (API_EXPORT_FORMATS=csv)."
    assert create(analyst, "csv").status_code == 200


def test_only_the_owner_or_an_admin_downloads(app, analyst):
    view = create(analyst, "csv").get_json()
    url = view["download_url"]
    other = signed_in(app, "analyst")  # not the owner
    assert other.get(url).status_code == 403
    assert other.get(f"/api/export/{view['id']}").status_code == 404
    assert signed_in(app, "admin").get(url).status_code == 200
    assert analyst.get(url).status_code == 200
    store = services_of(app).store
    downloads = audit.query(store, action="export.download", target=view["id"]).items
    assert {(e.username, e.outcome) for e in downloads} >= {
        ("analyst", "denied"),
        ("admin", "ok"),
        ("manager", "ok"),
    }
    created = audit.query(store, action="export.create", username="manager").items
    assert any(e.detail.get("export_id") == view["id"] for e in created)


def test_a_download_is_reauthorized_against_the_report(app, analyst, monkeypatch):
    view = create(analyst, "csv").get_json()
    import exports.jobs as jobs
    from security.policy import AccessDenied

    def deny(principal, action, resource):
        raise AccessDenied("No longer yours.", action, resource)

    monkeypatch.setattr(jobs, "authorize", deny)
    response = analyst.get(view["download_url"])
    assert response.status_code == 403 and response.get_json()["message"] == "No longer yours."


def test_prefer_respond_async_is_202_with_the_job_then_succeeds(analyst):
    created = analyst.post(
        "/api/export/json",
        json={"report_id": REPORT, "period": "30d"},
        headers={"Prefer": "respond-async"},
    )
    assert created.status_code == 202
    assert created.headers["Preference-Applied"] == "respond-async"
    view = created.get_json()
    assert view["status"] in ("pending", "running", "succeeded") and view["id"]
    assert created.headers["Location"].endswith(f"/api/export/{view['id']}")
    done = analyst.get(f"/api/export/{view['id']}?").get_json()
    for _ in range(100):
        if done["status"] == "succeeded":
            break
        threading.Event().wait(0.1)
        done = analyst.get(f"/api/export/{view['id']}").get_json()
    assert done["status"] == "succeeded" and done["progress"] == 100
    assert done["download_url"] == f"/api/export/{view['id']}/download"


def test_truncation_is_stated_in_the_status_and_the_file(app, analyst, monkeypatch):
    svc = services_of(app)
    monkeypatch.setattr(svc, "settings", svc.settings.replace(report_max_rows=5))
    view, response = download(analyst, "csv", widget_id="daily-revenue")
    assert view["truncated"] is True and view["row_count"] == 5
    (t,) = view["truncations"]
    days = loaded_days(svc, resolve("30d", svc.settings.report_timezone))  # series end with data
    assert t["kept"] == 5 and t["total"] == days and t["widget_id"] == "daily-revenue"
    text = response.get_data(as_text=True)
    assert f"# Truncated at 5 of {days} rows (REPORT_MAX_ROWS)." in text


def test_openapi_describes_the_export_routes(app):
    doc = app.server.test_client().get("/api/openapi.json").get_json()
    create_op = doc["paths"]["/api/export/{fmt}"]["post"]
    body = create_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body == "#/components/schemas/ExportRequest"
    assert "report_id" in doc["components"]["schemas"]["ExportRequest"]["properties"]
    assert create_op["responses"]["202"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/Export"
    )
    assert set(doc["components"]["schemas"]["Export"]["required"]) >= {
        "id",
        "status",
        "progress",
        "download_url",
    }
    assert "get" in doc["paths"]["/api/export/{export_id}"]
    assert "get" in doc["paths"]["/api/export/{export_id}/download"]
    assert "post" in doc["paths"]["/api/export/{export_id}/cancel"]


# -- concurrency ------------------------------------------------------------------------------------------


def test_ten_concurrent_image_exports_each_get_their_own_correct_file(app, image_server):
    """Eight API calls at once (bearer token, one thread each), the two charts x PNG and SVG x two
    periods: every file is its own widget's, equal to the same image rendered alone afterwards
    (cards have no image: test_an_image_of_a_card_is_400_naming_the_formats)."""
    svc = services_of(app)
    analyst = principal_of(app, "manager")
    plaintext, _ = tokens.issue(svc.store, analyst.id, "concurrency test")
    headers = {"Authorization": f"Bearer {plaintext}"}
    widgets = ["daily-revenue", "revenue-by-processor"]
    asks = [(w, fmt, p) for w in widgets for fmt in ("png", "svg") for p in ("30d", "90d")]
    results: dict[tuple[str, str, str], bytes] = {}
    errors: list[str] = []
    barrier = threading.Barrier(len(asks))

    def one(widget: str, fmt: str, period: str) -> None:
        try:
            client = app.server.test_client()
            barrier.wait()
            created = client.post(
                f"/api/export/{fmt}?wait=60",
                json={"report_id": REPORT, "period": period, "widget_id": widget},
                headers=headers,
            )
            view = created.get_json()
            assert view["status"] == "succeeded", view
            results[(widget, fmt, period)] = client.get(view["download_url"], headers=headers).data
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{widget}/{fmt}/{period}: {exc!r}")

    threads = [threading.Thread(target=one, args=ask) for ask in asks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == len(asks) == 8
    titles = {w.id: w.title for w in builtin_dashboards()[REPORT].widgets}
    client = app.server.test_client()
    for (widget, fmt, period), data in results.items():
        if fmt == "svg":
            svg = data.decode()
            assert svg.startswith("<svg") and titles[widget] in svg
            assert not [t for w, t in titles.items() if w != widget and t in svg]
        else:
            alone = client.post(
                "/api/export/png?wait=60",
                json={"report_id": REPORT, "period": period, "widget_id": widget},
                headers=headers,
            ).get_json()
            again = client.get(alone["download_url"], headers=headers).data
            width, height = (int.from_bytes(data[i : i + 4], "big") for i in (16, 20))
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and (width, height) == (1920, 960)
            assert data == again, widget  # kaleido draws the same figure to the same bytes


def _files(app, export_id: str) -> list[Path]:
    folder = Path(services_of(app).settings.instance_path) / "exports" / export_id
    return sorted(folder.rglob("*")) if folder.exists() else []


def test_the_row_records_file_name_and_counts(app, analyst):
    view = create(analyst, "csv").get_json()
    with services_of(app).store.session() as session:
        row = session.get(Export, view["id"])
        assert row.status == "succeeded" and row.progress == 100 and row.row_count > 0
        assert Path(row.path).name == row.filename == view["filename"]
        assert row.owner_id == principal_of(app, "manager").id
    assert [p.name for p in _files(app, view["id"])] == [view["filename"]]
