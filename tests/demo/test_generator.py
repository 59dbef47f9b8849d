"""The demo generator: deterministic, referentially intact, and showing every behaviour the metrics handle."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from demo.generator import DEPARTMENTS, generate
from demo.schema import PRIMARY_KEYS, TABLES
from tests.demo.conftest import TODAY

FUNNEL = [
    "signup_started",
    "signup_completed",
    "event_created",
    "event_registered",
    "ticket_purchased",
]


def test_same_seed_and_day_give_identical_frames(tiny: dict[str, pd.DataFrame]) -> None:
    again = generate("tiny", seed=7, today=TODAY)
    for name in TABLES:
        pd.testing.assert_frame_equal(tiny[name], again[name], check_exact=True)


def test_another_seed_gives_other_data(tiny: dict[str, pd.DataFrame]) -> None:
    other = generate("tiny", seed=8, today=TODAY)
    assert not tiny["customers"]["created_at"].equals(other["customers"]["created_at"])
    assert not tiny["events"]["uuid"].equals(other["events"]["uuid"])


def test_unknown_scale_names_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match="tiny, small, large"):
        generate("huge")


def test_every_table_has_exactly_its_schema_columns(small: dict[str, pd.DataFrame]) -> None:
    assert set(small) == set(TABLES)
    for name, columns in TABLES.items():
        assert list(small[name].columns) == [c for c, _ in columns], name
        assert len(small[name]) > 0, name


def test_timestamps_are_utc_and_history_ends_at_midnight_of_today(
    small: dict[str, pd.DataFrame],
) -> None:
    end = pd.Timestamp(TODAY, tz="UTC")
    start = end - pd.Timedelta(days=730)
    for name, columns in TABLES.items():
        for column, kind in columns:
            if kind == "ts":
                assert str(small[name][column].dtype) == "datetime64[us, UTC]", (name, column)
    past = [("customers", "created_at"), ("users", "created_at"), ("events", "timestamp"),
            ("sessions", "end_ts"), ("invoices", "created_at"), ("payments", "created_at"),
            ("subscriptions", "started_at"), ("subscriptions", "ended_at"), ("persons", "created_at")]  # fmt: skip
    for name, column in past:
        values = small[name][column].dropna()
        assert values.max() < end, (name, column)
        assert values.min() >= start, (name, column)
    assert small["events"]["timestamp"].max() > end - pd.Timedelta(days=1)  # runs up to yesterday


def test_small_scale_has_the_promised_size(small: dict[str, pd.DataFrame]) -> None:
    assert len(small["customers"]) == 1_500
    assert 150_000 <= len(small["events"]) <= 300_000


def test_primary_keys_and_distinct_ids_are_unique(small: dict[str, pd.DataFrame]) -> None:
    for name, key in PRIMARY_KEYS.items():
        assert small[name][key].is_unique, name
        assert small[name][key].notna().all(), name
    assert small["users"]["distinct_id"].is_unique


def test_every_foreign_key_resolves(small: dict[str, pd.DataFrame]) -> None:
    f = small

    def within(child: pd.Series, parent: pd.Series) -> bool:
        return bool(child.dropna().isin(parent).all())

    assert within(f["users"]["customer_id"], f["customers"]["id"])
    assert within(f["subscriptions"]["customer_id"], f["customers"]["id"])
    assert within(f["subscription_items"]["subscription_id"], f["subscriptions"]["id"])
    assert within(f["subscription_items"]["plan_id"], f["plans"]["id"])
    assert within(f["invoices"]["customer_id"], f["customers"]["id"])
    assert within(f["invoices"]["subscription_id"], f["subscriptions"]["id"])
    assert within(f["payments"]["invoice_id"], f["invoices"]["id"])
    assert within(f["events"]["person_id"], f["persons"]["id"])
    assert within(f["events"]["session_id"], f["sessions"]["session_id"])
    assert within(f["sessions"]["person_id"], f["persons"]["id"])
    assert within(f["kpi_goals"]["department"], pd.Series(DEPARTMENTS))
    assert sorted(f["customer_departments"]["customer_id"]) == sorted(f["customers"]["id"])
    # an invoice belongs to the customer of its subscription
    owner = f["subscriptions"].set_index("id")["customer_id"]
    assert (f["invoices"]["subscription_id"].map(owner) == f["invoices"]["customer_id"]).all()


def test_users_are_persons_with_the_same_creation_and_distinct_id(
    small: dict[str, pd.DataFrame],
) -> None:
    users, persons, events = small["users"], small["persons"].set_index("id"), small["events"]
    assert (
        persons.loc[users["id"], "created_at"].to_numpy() == users["created_at"].to_numpy()
    ).all()
    by_person = users.set_index("id")["distinct_id"]
    identified = events[events["person_id"].isin(users["id"])]
    assert (identified["person_id"].map(by_person) == identified["distinct_id"]).all()


def test_item_history_rows_never_overlap(small: dict[str, pd.DataFrame]) -> None:
    items = small["subscription_items"].merge(
        small["plans"][["id", "usage_type"]], left_on="plan_id", right_on="id"
    )
    assert (items["valid_to"].isna() | (items["valid_to"] > items["valid_from"])).all()
    for _, rows in items.sort_values("valid_from").groupby(["subscription_id", "usage_type"]):
        assert rows["valid_to"].isna().sum() <= 1
        ends = rows["valid_to"].to_numpy()[:-1]
        starts = rows["valid_from"].to_numpy()[1:]
        assert not pd.isna(ends).any()  # only the last row may be open
        assert (starts >= ends).all()


def test_events_are_sorted_by_timestamp(small: dict[str, pd.DataFrame]) -> None:
    assert small["events"]["timestamp"].is_monotonic_increasing


def test_sessions_summarise_their_events(small: dict[str, pd.DataFrame]) -> None:
    events, sessions = small["events"], small["sessions"].set_index("session_id")
    grouped = events.groupby("session_id")
    assert (grouped["timestamp"].min() == sessions["start_ts"].loc[grouped.size().index]).all()
    pageviews = events[events["event"] == "$pageview"].groupby("session_id").size()
    assert (pageviews == sessions["pageview_count"].loc[pageviews.index]).all()
    assert ((grouped.size() == 1) == sessions["is_bounce"].loc[grouped.size().index]).all()
    assert (grouped["person_id"].nunique() == 1).all()


def test_funnel_has_every_step_and_loses_people_at_each(small: dict[str, pd.DataFrame]) -> None:
    events = small["events"]
    assert set(FUNNEL + ["app_opened", "$pageview"]) <= set(events["event"])
    people = {name: set(events.loc[events["event"] == name, "person_id"]) for name in FUNNEL}
    acted = people["event_created"] | people["event_registered"]
    counts = [
        len(people["signup_started"]),
        len(people["signup_completed"]),
        len(acted),
        len(people["ticket_purchased"]),
    ]
    assert counts == sorted(counts, reverse=True) and len(set(counts)) == 4
    assert people["signup_completed"] <= people["signup_started"]
    assert acted <= people["signup_completed"]
    assert people["ticket_purchased"] <= people["event_registered"]


def test_action_events_carry_their_properties(small: dict[str, pd.DataFrame]) -> None:
    events = small["events"]
    sample = (
        events[events["event"] == "ticket_purchased"]["properties"]
        .head(50)
        .map(pd.io.json.ujson_loads)
    )
    assert all({"utm_source", "$browser", "event_id", "price_minor"} <= set(p) for p in sample)
    pageview = pd.io.json.ujson_loads(events[events["event"] == "$pageview"]["properties"].iloc[0])
    assert {"utm_source", "$browser", "$current_url"} <= set(pageview)


def test_weekdays_are_busier_than_weekends(small: dict[str, pd.DataFrame]) -> None:
    weekday = small["events"]["timestamp"].dt.day_of_week
    per_day = weekday.value_counts()
    assert per_day.loc[[0, 1, 2, 3, 4]].min() > 1.5 * per_day.loc[[5, 6]].max()


def test_activity_grows_over_the_two_years(small: dict[str, pd.DataFrame]) -> None:
    month = (
        small["events"]["timestamp"]
        .dt.tz_convert(None)
        .dt.to_period("M")
        .value_counts()
        .sort_index()
    )
    assert month.iloc[-2] > 3 * month.iloc[1]


def _trial_outcomes(f: dict[str, pd.DataFrame]) -> pd.Series:
    """A.4: converted = a non-zero invoice paid after trial_end and no cancellation before it."""
    subs = f["subscriptions"]
    trials = subs[subs["trial_start"].notna() & (subs["trial_end"] < pd.Timestamp(TODAY, tz="UTC"))]
    inv = f["invoices"].merge(trials[["id", "trial_end"]], left_on="subscription_id", right_on="id")
    paid = inv[
        (inv["total_minor"] > 0)
        & (inv["status"] == "paid")
        & (inv["period_start"] >= inv["trial_end"])
    ]
    canceled_early = trials["canceled_at"].notna() & (trials["canceled_at"] < trials["trial_end"])
    return trials["id"].isin(paid["subscription_id"]) & ~canceled_early


def test_trials_last_14_days_and_some_convert_and_some_do_not(
    small: dict[str, pd.DataFrame],
) -> None:
    subs = small["subscriptions"].dropna(subset=["trial_start"])
    assert ((subs["trial_end"] - subs["trial_start"]) == pd.Timedelta(days=14)).all()
    outcome = _trial_outcomes(small)
    assert 0.3 < outcome.mean() < 0.8
    assert (small["subscriptions"]["status"] == "trialing").any()


def _plan_changes(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    plans = f["plans"].set_index("id")
    items = f["subscription_items"].join(
        plans[["amount_minor", "usage_type", "is_free"]], on="plan_id"
    )
    items = items[(items["usage_type"] == "licensed") & ~items["is_free"]].sort_values(
        ["subscription_id", "valid_from"]
    )
    prev = items.groupby("subscription_id").shift(1)
    changed = items[
        prev["valid_to"].eq(items["valid_from"])
    ]  # closed and reopened at the same instant
    before = prev.loc[changed.index]
    return pd.DataFrame({
        "price_up": changed["amount_minor"] > before["amount_minor"],
        "price_down": changed["amount_minor"] < before["amount_minor"],
        "seats": changed["quantity"] - before["quantity"],
    })  # fmt: skip


def test_upgrades_downgrades_and_seat_changes_are_history_rows(
    small: dict[str, pd.DataFrame],
) -> None:
    changes = _plan_changes(small)
    assert changes["price_up"].sum() >= 5
    assert changes["price_down"].sum() >= 3
    assert (changes["seats"] > 0).sum() >= 5
    assert (changes["seats"] < 0).sum() >= 1
    assert (small["invoices"]["billing_reason"] == "subscription_update").any()  # prorations


def test_cancellations_pauses_dunning_and_reactivations_exist(
    small: dict[str, pd.DataFrame],
) -> None:
    subs = small["subscriptions"]
    status = subs["status"].value_counts()
    for name in ("active", "canceled", "paused", "past_due", "unpaid", "trialing"):
        assert status.get(name, 0) >= 2, name
    at_period_end = subs[(subs["status"] == "canceled") & subs["cancel_at_period_end"]]
    assert (at_period_end["ended_at"] > at_period_end["canceled_at"]).all() and len(
        at_period_end
    ) > 10
    pending = subs[(subs["status"] == "active") & subs["canceled_at"].notna()]
    assert len(pending) >= 2 and pending["ended_at"].isna().all()
    # paused: no open item row; a resumed pause leaves a gap between two rows
    items = small["subscription_items"]
    paused_ids = subs.loc[subs["status"] == "paused", "id"]
    assert items[items["subscription_id"].isin(paused_ids)]["valid_to"].notna().all()
    ordered = items.sort_values(["subscription_id", "valid_from"])
    gap = ordered["valid_from"] > ordered.groupby("subscription_id")["valid_to"].shift(1)
    assert gap.sum() >= 2
    # reactivation: a customer starts a subscription after one of theirs that was paid for has ended
    paid_subs = (
        small["invoices"].query("status == 'paid' and total_minor > 0")["subscription_id"].unique()
    )
    ended = subs[subs["id"].isin(paid_subs) & subs["ended_at"].notna()][["customer_id", "ended_at"]]
    later = subs[["customer_id", "started_at"]].merge(
        ended.rename(columns={"ended_at": "churned_at"}), on="customer_id"
    )
    assert (later["started_at"] > later["churned_at"]).sum() >= 2


def test_discounts_free_and_metered_plans_appear(small: dict[str, pd.DataFrame]) -> None:
    items = small["subscription_items"]
    assert {"forever", "repeating", "once"} <= set(items["discount_duration"].dropna())
    repeating = items[items["discount_duration"] == "repeating"]
    assert repeating["discount_ends_at"].notna().all()
    assert items.loc[items["discount_duration"] == "forever", "discount_ends_at"].isna().all()
    plans = small["plans"].set_index("id")
    used = plans.loc[items["plan_id"].unique()]
    assert used["is_free"].any() and (used["usage_type"] == "metered").any()
    assert {("month", 1), ("month", 3), ("year", 1)} <= set(
        zip(plans["interval"], plans["interval_count"], strict=True)
    )
    assert (small["plans"]["currency"] == "USD").all()


def test_invoices_and_payments_cover_every_status_and_processor(
    small: dict[str, pd.DataFrame],
) -> None:
    invoices, payments, subs = small["invoices"], small["payments"], small["subscriptions"]
    assert {"paid", "open", "void", "uncollectible"} <= set(invoices["status"])
    assert set(payments["processor"]) == {"stripe", "paypal", "paddle", "bank"}
    assert set(subs["processor"]) == {"stripe", "paddle", "manual"}
    assert {"succeeded", "failed", "refunded"} <= set(payments["status"])
    manual = invoices[invoices["processor"] == "manual"]["id"]
    assert set(payments[payments["invoice_id"].isin(manual)]["processor"]) <= {"paypal", "bank"}
    assert (
        invoices["total_minor"]
        == invoices["subtotal_minor"] - invoices["discount_minor"] + invoices["tax_minor"]
    ).all()
    paid = invoices["status"] == "paid"
    assert (invoices.loc[paid, "amount_paid_minor"] == invoices.loc[paid, "total_minor"]).all()
    assert (
        invoices.loc[paid, "paid_at"].notna().all() and invoices.loc[~paid, "paid_at"].isna().all()
    )


def test_test_accounts_have_subscriptions_invoices_and_events(
    small: dict[str, pd.DataFrame],
) -> None:
    test_ids = small["customers"].loc[small["customers"]["is_test"], "id"]
    assert len(test_ids) >= 3
    assert small["subscriptions"]["customer_id"].isin(test_ids).any()
    assert small["invoices"].query("status == 'paid'")["customer_id"].isin(test_ids).any()
    test_people = small["users"].loc[small["users"]["customer_id"].isin(test_ids), "id"]
    assert small["events"]["person_id"].isin(test_people).sum() > 100


def test_kpi_goals_are_monthly_with_optional_departments(small: dict[str, pd.DataFrame]) -> None:
    goals = small["kpi_goals"]
    assert set(goals["kpi"]) == {"mrr", "new_customers", "churn_rate", "trial_conversion", "dau"}
    starts = pd.to_datetime(goals["period_start"])
    assert (starts.dt.day == 1).all()
    assert (pd.to_datetime(goals["period_end"]) == starts + pd.offsets.MonthEnd(0)).all()
    company = goals[goals["department"].isna()]
    assert company.groupby("kpi")["period_start"].nunique().nunique() == 1  # every KPI, every month
    assert set(goals["department"].dropna()) == set(DEPARTMENTS)
    rates = goals[goals["kpi"].isin(["churn_rate", "trial_conversion"])]["goal"]
    assert rates.between(0, 1).all()
    assert max(goals["period_start"]) > TODAY  # goals already set for the coming months


def test_default_day_is_today() -> None:
    frames = generate("tiny", seed=1)
    last = frames["events"]["timestamp"].max()
    assert last < pd.Timestamp(datetime.now(UTC).date(), tz="UTC")
    assert np.isfinite(frames["kpi_goals"]["goal"]).all()
