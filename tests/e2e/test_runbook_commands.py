"""The seed's Troubleshooting commands, run as written (curl, redis-cli) against the served app.

Only two additions to the seed's lines: the base URL, and a bearer token where the endpoint needs
one (`-H "Authorization: Bearer $TOKEN"`); redis-cli gets `-n 15`, the test database.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from security import tokens
from store import init_store
from store.models import Export, User
from tests.e2e.conftest import serve_app

AUTH = ' -H "Authorization: Bearer $TOKEN"'
HEALTH = "curl -X GET {base}/api/health/datasources"
PERFORMANCE = "curl -X GET {base}/api/reports/performance/{report_id}"
EXPORT_TEST = """curl -X POST {base}/api/export/test -d '{{"format": "pdf", "data": "sample"}}'"""
SMOKE = "curl -X POST {base}/api/reports/test"
QUEUE = "redis-cli -n 15 llen export_queue"
REPORT = "revenue_overview"


def run(command: str, **env: str) -> str:
    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=True,
    )
    return done.stdout


def run_json(command: str, **env: str) -> dict:
    out = run(command, **env)
    try:
        return json.loads(out)
    except ValueError:
        pytest.fail(f"{command!r} did not answer JSON: {out[:500]!r}")


@pytest.fixture(scope="module")
def served(tmp_path_factory, demo_warehouse):
    """The app on Redis db 15 (query cache and export_queue) with one export worker, and an
    admin API token issued in its metadata store."""
    import redis

    from tests.conftest import REDIS_URL

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Redis on 127.0.0.1:6379 is not reachable: {exc}")
    client.flushdb()
    instance: Path = tmp_path_factory.mktemp("runbook-instance")
    with serve_app(
        instance,
        demo_warehouse,
        REDIS_URL=REDIS_URL,
        SCHEDULER_ENABLED="false",
        REPORT_CONCURRENT_LIMIT="1",
    ) as base:
        store = init_store(f"sqlite:///{instance / 'nexpo.db'}")
        with store.session() as session:
            admin_id = session.scalar(select(User.id).where(User.username == "admin"))
        token, _ = tokens.issue(store, admin_id, "runbook")
        yield base, token, store
        store.dispose()
    client.flushdb()
    client.close()


def test_check_data_source_connectivity(served):
    base, _, _ = served
    body = run_json(HEALTH.format(base=base))
    assert body["status"] == "ok"
    assert [(s["name"], s["status"]) for s in body["datasources"]] == [("warehouse", "up")]
    assert body["cache"] == {"backend": "redis", "status": "up"}


def test_blue_green_smoke_test(served):
    base, _, _ = served
    body = run_json(SMOKE.format(base=base))
    assert body["status"] == "pass"
    assert body["templates"] and all(t["status"] == "pass" for t in body["templates"])


def test_check_query_performance(served):
    base, token, _ = served
    # One generation to look at: an export generates the whole report.
    request = urllib.request.Request(
        f"{base}/api/export/csv?wait=30",
        data=json.dumps({"report_id": REPORT, "period": "30d"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert json.load(response)["status"] == "succeeded"
    body = run_json(PERFORMANCE.format(base=base, report_id=REPORT) + AUTH, TOKEN=token)
    assert body["report_id"] == REPORT and body["generations"]["count"] >= 1
    assert body["generations"]["p50_ms"] > 0
    assert all(w["samples"] >= 1 and w["rows"] is not None for w in body["widgets"])
    denied = run_json(PERFORMANCE.format(base=base, report_id=REPORT))
    assert denied["error"] == "unauthorized"


def test_pdf_generation(served):
    base, token, _ = served
    body = run_json(EXPORT_TEST.format(base=base) + AUTH, TOKEN=token)
    assert body["ok"] is True and body["format"] == "pdf"
    assert body["content_type"] == "application/pdf" and body["bytes"] > 1000
    assert run_json(EXPORT_TEST.format(base=base))["error"] == "unauthorized"


def test_export_queue_length_is_the_number_of_queued_exports(served):
    base, token, store = served

    def pending() -> int:
        with store.session() as session:
            return session.scalar(
                select(func.count()).select_from(Export).where(Export.status == "pending")
            )

    ids = []
    for _ in range(4):  # one worker: three of them wait while the first renders
        request = urllib.request.Request(
            f"{base}/api/export/pdf",
            data=json.dumps({"report_id": REPORT, "period": "30d"}).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Prefer": "respond-async",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            ids.append(json.load(response)["id"])
    agreed, differed = [], []
    ends = time.monotonic() + 120
    while time.monotonic() < ends:
        before, length, after = pending(), int(run(QUEUE)), pending()
        if before == after:  # no claim in between: the list and the rows must agree...
            (agreed if length == before else differed).append((before, length))
        if before == 0 and after == 0:
            break
        time.sleep(0.1)
    assert any(n > 0 for _, n in agreed), agreed  # seen while exports were queued
    # ...but for the instant between a worker's claim (a commit) and its LREM: at most once
    # per claim, and then by one.
    assert len(differed) <= 4 and all(n - rows == 1 for rows, n in differed), differed
    assert int(run(QUEUE)) == 0 == pending()

    def states() -> list[str]:
        with store.session() as session:
            return sorted(session.scalars(select(Export.status).where(Export.id.in_(ids))))

    while "running" in states() and time.monotonic() < ends:
        time.sleep(0.2)
    assert states() == ["succeeded"] * 4
