"""Properties of the revenue metrics on generated histories, and DuckDB/PostgreSQL agreement."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.catalog import CATALOG, run_metric
from datasources.sql import SQLSource
from demo.schema import load_frames
from tests.analytics._revenue_rows import Runner, billing, item, sub

DAYS = pd.date_range("2024-01-01", "2024-12-31", freq="D")
PLANS = (1, 2, 4, 8, 9, 6)  # monthly, annual, weekly, 50, 300, free


@st.composite
def histories(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    """A few customers, each with 1-2 subscriptions made of consecutive or gapped item rows."""
    subs, items = [], []
    for customer in range(1, draw(st.integers(1, 4)) + 1):
        for _ in range(draw(st.integers(1, 2))):
            sid = len(subs) + 1
            cuts = sorted(draw(st.lists(st.integers(0, 364), min_size=2, max_size=6, unique=True)))
            trial = draw(st.booleans())
            status = draw(st.sampled_from(["active", "past_due", "canceled", "paused", "unpaid"]))
            ended = str(DAYS[cuts[-1]].date()) if status in ("canceled", "unpaid") else None
            start = str(DAYS[cuts[0]].date())
            trial_end = str(DAYS[min(cuts[0] + 14, 364)].date()) if trial else None
            subs.append(sub(sid, customer, start, status=status, ended=ended, trial_start=start if trial else None,
                            trial_end=trial_end))  # fmt: skip
            for a, b in zip(cuts, cuts[1:], strict=False):
                if draw(st.integers(0, 4)) == 0:
                    continue  # a gap: paused between a and b
                last = b == cuts[-1] and ended is None and draw(st.booleans())
                hour = draw(st.integers(0, 23))
                pct = draw(st.sampled_from([None, None, 20.0, 100.0]))
                ends = (
                    str(DAYS[draw(st.integers(0, 364))].date())
                    if pct and draw(st.booleans())
                    else None
                )
                items.append(item(len(items) + 1, sid, draw(st.sampled_from(PLANS)),
                                  f"{DAYS[a].date()} {hour:02d}:00", None if last else f"{DAYS[b].date()} 00:00",
                                  qty=draw(st.integers(1, 3)), pct=pct, discount_ends=ends))  # fmt: skip
    return billing(subs, items)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=histories(), timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]))
def test_mrr_bridge_identity_holds_on_generated_histories(frames, timezone):
    with tempfile.TemporaryDirectory() as tmp:
        url = f"duckdb:///{Path(tmp) / 'w.duckdb'}"
        load_frames(url, frames)
        source = SQLSource("t", url)
        params = {"start": "2024-01-01", "end": "2024-12-31", "timezone": timezone}
        moves = run_metric("mrr_movements", source, params)
        monthly = run_metric("mrr", source, {**params, "interval": "month"})
        source.close()
    parts = moves[["new", "expansion", "contraction", "churn", "reactivation"]].sum(axis=1)
    assert moves["end_mrr"].to_numpy() == pytest.approx(
        (moves["start_mrr"] + parts).to_numpy(), abs=1e-6
    )
    assert moves["net_new"].to_numpy() == pytest.approx(parts.to_numpy(), abs=1e-6)
    # each period starts where the previous one ended, and the bridge agrees with the MRR series
    assert moves["start_mrr"].iloc[1:].to_numpy() == pytest.approx(
        moves["end_mrr"].iloc[:-1].to_numpy()
    )
    assert moves["end_mrr"].to_numpy() == pytest.approx(monthly["mrr"].to_numpy(), abs=1e-6)
    assert (moves[["new", "expansion", "reactivation"]] >= 0).all().all()
    assert (moves[["contraction", "churn"]] <= 0).all().all()


def test_every_revenue_metric_is_registered_with_its_declared_columns():
    names = {spec.name for spec in CATALOG.values() if spec.group == "revenue"}
    assert names >= {
        "mrr", "mrr_movements", "net_new_mrr", "arr", "arpa", "paying_customers",
        "customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "nrr", "grr",
        "quick_ratio", "ltv", "cohort_ltv", "trial_conversion", "revenue_by_processor",
        "revenue_by_plan", "revenue_trend", "cohort_mrr_retention",
    }  # fmt: skip
    assert CATALOG["mrr"].columns == ("date", "mrr")
    assert CATALOG["mrr_movements"].columns == (
        "period_start", "start_mrr", "new", "expansion", "contraction", "churn", "reactivation",
        "net_new", "end_mrr",
    )  # fmt: skip


MIXED = billing(
    [
        sub(1, 1, "2024-01-03 22:30", trial_start="2024-01-03 22:30", trial_end="2024-01-17 22:30"),
        sub(2, 2, "2024-01-10", status="canceled", canceled="2024-02-02", ended="2024-03-31 23:30"),
        sub(3, 2, "2024-02-01"),
        sub(4, 3, "2024-01-31 23:30", status="paused"),
    ],
    [
        item(1, 1, 4, "2024-01-03 22:30", "2024-02-14 12:00", qty=3),
        item(2, 1, 2, "2024-02-14 12:00", pct=15, discount_ends="2024-04-30 23:00"),
        item(3, 2, 10, "2024-01-10"),
        item(4, 3, 5, "2024-02-01", qty=7),
        item(5, 4, 1, "2024-01-31 23:30", "2024-03-01"),
    ],
    invoices=[{"id": 1, "customer_id": 1, "subscription_id": 1, "status": "paid", "total_minor": 4333,
               "created_at": "2024-01-17 22:30", "paid_at": "2024-01-17 22:30", "period_start": "2024-01-17 22:30"}],
    payments=[{"id": 1, "invoice_id": 1, "processor": "stripe", "amount_minor": 4333, "status": "succeeded",
               "created_at": "2024-01-17 22:30", "refunded_minor": 0}],
)  # fmt: skip


@pytest.mark.postgres
def test_duckdb_and_postgresql_give_identical_results_for_every_revenue_metric(
    tmp_path, pg_database
):
    duck = f"duckdb:///{tmp_path / 'w.duckdb'}"
    runs = {
        url: Runner(lambda frames, url=url: (load_frames(url, frames), url)[1], MIXED)
        for url in (duck, pg_database)
    }
    base = {"start": "2024-01-01", "end": "2024-05-15", "timezone": "Europe/Berlin"}
    for name in sorted(n for n, spec in CATALOG.items() if spec.group == "revenue"):
        extra = {"start": "2024-01-10", "end": "2024-01-20"} if name == "revenue_trend" else {}
        frames = [run(name, **{**base, **extra}) for run in runs.values()]
        pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=False, rtol=1e-12, obj=name)
