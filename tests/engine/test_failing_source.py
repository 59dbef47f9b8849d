"""A data source that cannot answer one widget's query breaks that widget only, with a safe message."""

from __future__ import annotations

import pandas as pd

from datasources.registry import DataSources
from demo.generator import generate
from demo.schema import load_frames
from engine.generate import generate as generate_report
from engine.periods import Window
from engine.services import Services
from engine.spec import DashboardSpec
from security.users import Principal
from settings import Settings
from store import init_store


def test_missing_table_fails_its_widget_and_the_others_still_compute(tmp_path):
    frames = generate("tiny", seed=3)
    url = f"duckdb:///{tmp_path / 'broken.duckdb'}"
    load_frames(url, frames)
    import duckdb

    con = duckdb.connect(str(tmp_path / "broken.duckdb"))
    con.execute("DROP TABLE sessions")  # the source can no longer answer session metrics
    con.close()
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path / "i"), "WAREHOUSE_URL": url})
    services = Services(
        settings, init_store(settings.database_url), DataSources.from_settings(settings)
    )
    spec = DashboardSpec.model_validate(
        {
            "key": "mixed",
            "title": "Mixed",
            "widgets": [
                {
                    "id": "mrr",
                    "type": "line",
                    "title": "MRR",
                    "metric": "mrr",
                    "options": {"x": "date", "y": ["mrr"]},
                },
                {
                    "id": "sessions",
                    "type": "line",
                    "title": "Sessions",
                    "metric": "session_metrics",
                },
                {"id": "trend", "type": "line", "title": "Revenue", "metric": "revenue_trend"},
            ],
        }
    )
    end = pd.Timestamp(frames["events"]["timestamp"].max()).date()
    results = generate_report(
        spec, Window(end.replace(day=1), end), Principal(1, "admin", "admin"), services
    )
    by_id = {r.widget.id: r for r in results}
    # The safe message of QueryError: no SQL, no table name, no DSN.
    assert by_id["sessions"].error == "The query could not run against this data source."
    assert by_id["mrr"].error is None and len(by_id["mrr"].frame) > 0
    assert by_id["trend"].error is None and len(by_id["trend"].frame) > 0
    services.sources.close()
