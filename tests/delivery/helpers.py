"""Bundles with real files for delivery tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.schedules import Artifact, Bundle

CSV = "month,mrr\n2026-01,1200.00\n2026-02,1350.50\n"


def make_bundle(
    tmp_path: Path,
    *,
    csv: str = CSV,
    extra: dict[str, bytes] | None = None,
    links: dict[str, str] | None = None,
) -> Bundle:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "revenue.csv"
    path.write_text(csv)
    artifacts = [Artifact.from_file(path, "text/csv")]
    for name, data in (extra or {}).items():
        (tmp_path / name).write_bytes(data)
        artifacts.append(Artifact.from_file(tmp_path / name, "application/octet-stream"))
    return Bundle(
        schedule_id=7,
        schedule_name="Weekly revenue",
        report_ref="revenue_analytics",
        run_id=42,
        due_at=datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
        timezone="Europe/Berlin",
        artifacts=tuple(artifacts),
        params={"period": "7d"},
        links=links or {},
    )
