"""End to end: log in, open the revenue overview, switch the period, and check the cards against SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pytest
from playwright.sync_api import expect

from components.formats import money, number, percent
from tests.e2e.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.e2e

# MRR at instant :t written independently of analytics/: every revenue-active item of a non-test
# customer, monthly-normalised, net of an active discount (METRICS.md A.1, Nexpo defaults).
# An item valid on [a, b) counts at the end of local day d when a < t <= b, t = start of day d + 1.
CUSTOMER_MRR_SQL = """
SELECT s.customer_id,
       SUM(p.amount_minor * si.quantity
           * CASE p.interval WHEN 'month' THEN 1.0 / p.interval_count
                             WHEN 'year' THEN 1.0 / (12 * p.interval_count)
                             WHEN 'week' THEN 52.0 / 12 / p.interval_count
                             ELSE 365.0 / 12 / p.interval_count END
           * CASE WHEN si.discount_pct IS NOT NULL AND (si.discount_ends_at IS NULL OR si.discount_ends_at >= $t)
                  THEN 1 - si.discount_pct / 100 ELSE 1 END) / 100 AS mrr
FROM subscription_items si
JOIN subscriptions s ON s.id = si.subscription_id
JOIN plans p ON p.id = si.plan_id
JOIN customers c ON c.id = s.customer_id
WHERE NOT c.is_test AND NOT p.is_free AND p.usage_type = 'licensed'
  AND s.status IN ('active', 'past_due', 'canceled', 'unpaid', 'paused')
  AND greatest(s.started_at, coalesce(s.trial_end, s.started_at)) < $t
  AND CASE WHEN s.status IN ('canceled', 'unpaid')
           -- Stripe's unpaid keeps both dates empty: service ends with the last paid period.
           THEN coalesce(s.ended_at, s.canceled_at,
                         (SELECT max(iv.period_end) FROM invoices iv
                          WHERE iv.subscription_id = s.id AND iv.status = 'paid' AND iv.total_minor > 0),
                         s.started_at)
           ELSE coalesce(s.ended_at, TIMESTAMPTZ '9999-01-01') END >= $t
  AND si.valid_from < $t AND coalesce(si.valid_to, TIMESTAMPTZ '9999-01-01') >= $t
  AND NOT (s.status = 'paused' AND si.valid_to IS NULL)
GROUP BY 1
HAVING SUM(p.amount_minor * si.quantity) > 0
"""


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def expected_cards(warehouse_url: str, days: int) -> dict[str, str]:
    end = datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    con = duckdb.connect(warehouse_url.removeprefix("duckdb:///"), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")

        def paying(day: date) -> dict[int, float]:
            rows = con.execute(CUSTOMER_MRR_SQL, {"t": end_of(day)}).fetchall()
            return {cid: float(mrr) for cid, mrr in rows if mrr > 1e-9}

        now, before = paying(end), paying(start - timedelta(days=1))
    finally:
        con.close()
    mrr = sum(now.values())
    churned = [cid for cid in before if cid not in now]
    return {
        "mrr": money(mrr),
        "arr": money(mrr * 12),
        "paying-customers": number(float(len(now))),
        "customer-churn": percent(len(churned) / len(before)),
    }


def wait_until_drawn(page) -> None:
    """Every card has its value and no widget is still loading (dcc.Loading hides stale values).

    Locator assertions, not wait_for_function: the app's CSP forbids eval, as it should.
    """
    expect(page.locator("[data-testid=metric-value]")).to_have_count(4, timeout=30_000)
    expect(page.locator("[data-dash-is-loading=true]")).to_have_count(0, timeout=30_000)


def card_values(page) -> dict[str, str]:
    wait_until_drawn(page)
    out = {}
    for widget in ("mrr", "arr", "paying-customers", "customer-churn"):
        selector = (
            f'[id=\'{{"type":"widget-body","widget":"{widget}"}}\'] [data-testid="metric-value"]'
        )
        out[widget] = page.locator(selector).inner_text(timeout=30_000)
    return out


def test_revenue_dashboard_cards_match_sql_and_follow_the_period(served_app, page, demo_warehouse):
    sign_in(page, served_app, "admin", next_path="/dashboards/revenue_overview")
    page.wait_for_url("**/dashboards/revenue_overview")
    assert card_values(page) == expected_cards(demo_warehouse, 30)

    page.get_by_role("button", name="90d").click()
    page.wait_for_url("**/dashboards/revenue_overview?period=90d")
    assert card_values(page) == expected_cards(demo_warehouse, 90)

    # The charts drew something: a line per series and a bar per processor.
    page.wait_for_selector(
        '[id=\'{"type":"widget-body","widget":"daily-revenue"}\'] .scatterlayer .trace',
        timeout=30_000,
    )
    bars = page.locator(
        '[id=\'{"type":"widget-body","widget":"revenue-by-processor"}\'] .bars .point'
    )
    assert bars.count() == 4
    assert page.console_errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "revenue_overview-90d.png"), full_page=True)


def test_unknown_dashboard_shows_not_found(served_app, page):
    sign_in(page, served_app, "viewer", next_path="/dashboards/no-such-dashboard")
    page.get_by_text("Dashboard not found").wait_for(timeout=30_000)
    assert page.get_by_role("button", name="All dashboards").is_visible()
