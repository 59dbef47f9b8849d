"""Naive pandas versions of the benchmarked metrics: load the tables, compute in pandas.

These are the honest "load the tables into pandas and compute there" baselines of issue 3 part 6:
straightforward pandas (groupby, merge and boolean masks where that is natural; a loop over days,
months or cohorts where the metric is defined per snapshot, and a per-person replay of PostHog's
UDF for ordered/strict funnels), the same rules as the SQL metrics (test accounts excluded, UTC
days, METRICS.md conventions), no precomputed tables and nothing shared between calls: every
function starts from the preloaded frames. `bench_metrics.py` times them on preloaded frames and
checks that each gives the same numbers as the SQL metric.

The loader reads only the columns the functions use; the one event property they read ($browser,
for the funnel breakdown) is loaded as a column of its own rather than as the whole JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")

# Columns each table is loaded with (what the naive metrics read).
COLUMNS: dict[str, list[str]] = {
    "events": ["person_id", "event", "timestamp"],
    "persons": ["id", "created_at"],
    "sessions": ["person_id", "start_ts", "duration_s", "pageview_count", "is_bounce"],
    "users": ["id", "customer_id"],
    "customers": ["id", "is_test"],
    "subscriptions": [
        "id", "customer_id", "status", "started_at", "trial_start", "trial_end", "canceled_at",
        "ended_at",
    ],
    "subscription_items": [
        "subscription_id", "plan_id", "quantity", "valid_from", "valid_to", "discount_pct",
        "discount_ends_at",
    ],
    "plans": ["id", "name", "amount_minor", "interval", "interval_count", "usage_type", "is_free"],
    "invoices": [
        "id", "customer_id", "subscription_id", "status", "total_minor", "paid_at", "period_start",
        "period_end", "created_at",
    ],
    "payments": ["id", "invoice_id", "processor", "amount_minor", "status", "created_at", "refunded_minor"],
    "kpi_goals": ["kpi", "period_start", "goal", "department"],
}  # fmt: skip

# Event properties read by the naive metrics, loaded as columns of their own (the JSON key read
# once at load time, as PostHog materialises hot properties; category dtype to keep 10M rows small).
PROPERTIES: dict[str, list[str]] = {"events": ["$browser"]}


@dataclass
class Frames:
    """The warehouse tables as pandas frames (timestamps UTC-aware)."""

    tables: dict[str, pd.DataFrame]

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def test_persons(self) -> np.ndarray:
        """Users of test customers (their events are excluded, METRICS.md D.7.8)."""
        users, customers = self["users"], self["customers"]
        test_customers = customers.loc[customers["is_test"].fillna(False).astype(bool), "id"]
        return users.loc[users["customer_id"].isin(test_customers), "id"].to_numpy()

    def test_customers(self) -> np.ndarray:
        customers = self["customers"]
        return customers.loc[customers["is_test"].fillna(False).astype(bool), "id"].to_numpy()


def load_frames(con: Any, tables: list[str] | None = None) -> Frames:
    """Read the needed columns of every table from a DuckDB warehouse (a duckdb connection) into pandas."""
    out = {}
    for table in tables or list(COLUMNS):
        cols = [f'"{c}"' for c in COLUMNS[table]]
        cols += [f'properties ->> \'$."{key}"\' AS "{key}"' for key in PROPERTIES.get(table, [])]
        out[table] = con.execute(f'SELECT {", ".join(cols)} FROM "{table}"').df()
        for key in PROPERTIES.get(table, []):
            out[table][key] = out[table][key].astype("category")
    for frame in out.values():
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
                frame[col] = frame[col].dt.tz_convert("UTC")
    return Frames(out)


def _utc(day: date) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def _days(start: date, end: date) -> pd.DatetimeIndex:
    return pd.date_range(_utc(start), _utc(end), freq="D")


def _events(fr: Frames, start: date, end: date, event: str | None) -> pd.DataFrame:
    ev = fr["events"]
    keep = (ev["timestamp"] >= _utc(start)) & (ev["timestamp"] < _utc(end) + DAY)
    if event is not None:
        keep &= ev["event"] == event
    keep &= ev["person_id"].notna() & ~ev["person_id"].isin(fr.test_persons())
    return ev.loc[keep]


# ----------------------------------------------------------------------------- product


def dau(fr: Frames, event: str, start: date, end: date) -> pd.DataFrame:
    """trends math=dau: distinct persons per UTC day."""
    ev = _events(fr, start, end, event)
    per_day = ev.groupby(ev["timestamp"].dt.floor("D"))["person_id"].nunique()
    days = _days(start, end)
    return pd.DataFrame(
        {"date": days.date, "value": per_day.reindex(days, fill_value=0).astype(float).to_numpy()}
    )


def rolling_active(
    fr: Frames, event: str | None, start: date, end: date, window: int
) -> pd.DataFrame:
    """Per day d: DAU and distinct persons active in d-window+1..d (a loop over days)."""
    ev = _events(fr, start - timedelta(days=window - 1), end, event)
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    active = pd.DataFrame(
        {"pid": ev["person_id"].to_numpy(), "day": (ev["timestamp"] - epoch).dt.days.to_numpy()}
    ).drop_duplicates()
    rows = []
    for day in _days(start, end):
        n = (day - epoch).days
        in_window = active[(active["day"] > n - window) & (active["day"] <= n)]
        rows.append(
            (day.date(), int((in_window["day"] == n).sum()), int(in_window["pid"].nunique()))
        )
    return pd.DataFrame(rows, columns=["date", "dau", "active"])


def dau_mau_summary(fr: Frames, event: str | None, start: date, end: date) -> pd.DataFrame:
    """Mean DAU, mean 30-day MAU and the mean of the daily DAU/MAU ratios (days with MAU > 0)."""
    daily = rolling_active(fr, event, start, end, 30)
    ratios = daily["dau"] / daily["active"].where(daily["active"] > 0)
    return pd.DataFrame(
        {
            "start": [start],
            "end": [end],
            "avg_dau": [daily["dau"].mean()],
            "avg_mau": [daily["active"].mean()],
            "ratio": [ratios.mean()],  # NaN ratios (MAU 0) are skipped; all NaN gives NaN
        }
    )


def stickiness(fr: Frames, event: str, start: date, end: date) -> pd.DataFrame:
    """Persons who did `event` on exactly x days of [start, end], x = 1..N."""
    ev = _events(fr, start, end, event)
    active = pd.DataFrame({"pid": ev["person_id"], "day": ev["timestamp"].dt.floor("D")})
    days_per_person = active.drop_duplicates().groupby("pid").size()
    n = (end - start).days + 1
    counts = days_per_person.value_counts().reindex(range(1, n + 1), fill_value=0)
    return pd.DataFrame({"days": range(1, n + 1), "persons": counts.to_numpy()})


def _bucket(ts: pd.Series, interval: str) -> pd.Series:
    """Bucket index of UTC timestamps: days since 1970, Monday weeks since 1970-01-05, or months."""
    if interval == "month":
        return ts.dt.year * 12 + ts.dt.month - 1
    days = (ts - EPOCH).dt.days
    return days if interval == "day" else (days - 4) // 7


def _bucket_of(day: date, interval: str) -> int:
    return int(_bucket(pd.Series([_utc(day)]), interval).iloc[0])


def _bucket_start(index: int, interval: str) -> date:
    if interval == "month":
        return date(index // 12, index % 12 + 1, 1)
    if interval == "week":
        return date(1970, 1, 5) + timedelta(days=7 * index)
    return date(1970, 1, 1) + timedelta(days=index)


def lifecycle(
    fr: Frames, event: str, start: date, end: date, interval: str = "day"
) -> pd.DataFrame:
    """PostHog lifecycle: each person's active buckets labelled against the previous one."""
    b0, b1 = _bucket_of(start, interval), _bucket_of(end, interval)
    ev = _events(fr, _bucket_start(b0 - 1, interval), end, event)
    active = (
        pd.DataFrame({"pid": ev["person_id"].to_numpy(), "b": _bucket(ev["timestamp"], interval)})
        .drop_duplicates()
        .sort_values(["pid", "b"])
    )
    persons = fr["persons"]
    created = pd.Series(_bucket(persons["created_at"], interval).to_numpy(), index=persons["id"])
    active["created"] = active["pid"].map(created)
    active["prev"] = active.groupby("pid")["b"].shift(1)
    active["next"] = active.groupby("pid")["b"].shift(-1)
    first = active["prev"].isna()
    active["status"] = np.where(
        first,
        np.where(active["b"] == active["created"], "new", "resurrecting"),
        np.where(active["prev"] == active["b"] - 1, "returning", "resurrecting"),
    )
    dormant = active.loc[active["next"] != active["b"] + 1, "b"] + 1  # NaN next: dormant too
    counts = active.groupby(["b", "status"]).size()
    dormant_counts = dormant.value_counts()
    buckets = range(b0, b1 + 1)
    return pd.DataFrame(
        {
            "date": [_bucket_start(b, interval) for b in buckets],
            **{
                status: [int(counts.get((b, status), 0)) for b in buckets]
                for status in ("new", "returning", "resurrecting")
            },
            "dormant": [-int(dormant_counts.get(b, 0)) for b in buckets],
        }
    )


ENGAGEMENT_SEGMENTS = ["High", "Medium", "Low", "Inactive"]


def engagement_segments(fr: Frames, event: str | None, end: date) -> pd.DataFrame:
    """Persons by active days in the 30 days ending at `end`, plus earlier-created inactive persons."""
    first = end - timedelta(days=29)
    ev = _events(fr, first, end, event)
    act = pd.DataFrame({"pid": ev["person_id"], "day": ev["timestamp"].dt.floor("D")})
    per_person = act.groupby("pid").agg(days=("day", "nunique"), events=("day", "size"))
    persons = fr["persons"]
    idle = persons.loc[
        (persons["created_at"] < _utc(first))
        & ~persons["id"].isin(fr.test_persons())
        & ~persons["id"].isin(per_person.index),
        "id",
    ]
    population = pd.concat(
        [per_person, pd.DataFrame({"days": 0, "events": 0}, index=idle.to_numpy())]
    )
    days = population["days"]
    population["segment"] = np.select(
        [days >= 15, days >= 5, days >= 1], ["High", "Medium", "Low"], "Inactive"
    )
    out = (
        population.groupby("segment")
        .agg(
            users=("days", "size"),
            avg_active_days=("days", "mean"),
            avg_events=("events", "mean"),
        )
        .reindex(ENGAGEMENT_SEGMENTS)
    )
    out["users"] = out["users"].fillna(0).astype(int)
    total = out["users"].sum()
    out["share"] = out["users"] / total if total else np.nan
    out = out.rename_axis("segment").reset_index()
    return out[["segment", "users", "share", "avg_active_days", "avg_events"]]


def session_metrics(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """Sessions per UTC day of their start: count, mean duration, bounce rate, pageviews."""
    s = fr["sessions"]
    s = s[
        (s["start_ts"] >= _utc(start))
        & (s["start_ts"] < _utc(end) + DAY)
        & ~s["person_id"].isin(fr.test_persons())
    ]
    per_day = s.groupby(s["start_ts"].dt.floor("D")).agg(
        sessions=("start_ts", "size"),
        avg_duration_s=("duration_s", "mean"),
        bounce_rate=("is_bounce", lambda b: b.astype(float).mean()),
        pageviews_per_session=("pageview_count", "mean"),
    )
    days = _days(start, end)
    out = per_day.reindex(days)
    out["sessions"] = out["sessions"].fillna(0).astype(int)
    out.insert(0, "date", days.date)
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------- funnels


def _funnel_rows(
    fr: Frames, steps: list[str], start: date, end: date, strict: bool
) -> pd.DataFrame:
    """The events a funnel replays, per person in time order: only persons who did step 1 can
    convert; ordered funnels read the step events, strict ones every event of those persons.
    Events at the same instant are taken in step order (other events last)."""
    ev = _events(fr, start, end, None)
    ev = ev[ev["person_id"].isin(ev.loc[ev["event"] == steps[0], "person_id"].unique())]
    if not strict:
        ev = ev[ev["event"].isin(steps)]
    order = {name: steps.index(name) + 1 for name in reversed(steps)}
    frame = pd.DataFrame(
        {
            "pid": ev["person_id"].to_numpy(),
            "ts": ev["timestamp"].dt.as_unit("us").astype("int64").to_numpy(),
            "event": ev["event"].to_numpy(dtype=object),
        }
    )
    frame["ord"] = frame["event"].map(order).fillna(len(steps) + 1)
    return frame.sort_values(["pid", "ts", "ord"], kind="stable")


def _funnel_replay(
    frame: pd.DataFrame, steps: list[str], window_days: int, strict: bool
) -> dict[int, tuple[int, tuple[int, ...]]]:
    """A per-person replay of PostHog's funnel UDF: person -> (furthest step, step times in us
    of the first attempt that reached it). Slot k holds the start (step-1 time) of the latest
    attempt that reached step k and its step times; strict funnels clear every slot the event
    does not match."""
    n = len(steps)
    window = window_days * 86_400_000_000
    matches = {name: [k for k in range(1, n + 1) if steps[k - 1] == name] for name in steps}
    out: dict[int, tuple[int, tuple[int, ...]]] = {}
    current, best, best_times = None, 0, ()
    begin: list[int | None] = []
    times: list[tuple[int, ...]] = []
    for pid, ts, name in zip(frame["pid"], frame["ts"], frame["event"], strict=True):
        if pid != current:
            if current is not None and best:
                out[current] = (best, best_times)
            current, best, best_times = pid, 0, ()
            begin, times = [None] * (n + 1), [()] * (n + 1)
        begin[0] = ts
        hit = matches.get(name, ())
        for k in reversed(hit):
            if (
                begin[k - 1] is not None
                and ts - begin[k - 1] <= window
                and begin[k] != begin[k - 1]
            ):
                begin[k], times[k] = begin[k - 1], times[k - 1] + (ts,)
                if k > best:
                    best, best_times = k, times[k]
        if strict:
            for k in range(1, n + 1):
                if k not in hit:
                    begin[k], times[k] = None, ()
    if current is not None and best:
        out[current] = (best, best_times)
    return out


def _cumulative(furthest: Any, n: int) -> list[int]:
    reached = np.asarray(list(furthest))
    return [int((reached >= k).sum()) for k in range(1, n + 1)]


def funnel_ordered(
    fr: Frames, steps: list[str], start: date, end: date, window_days: int
) -> list[int]:
    """Ordered funnel: a per-person replay of PostHog's UDF over the sorted step events."""
    frame = _funnel_rows(fr, steps, start, end, strict=False)
    replay = _funnel_replay(frame, steps, window_days, strict=False)
    return _cumulative((best for best, _ in replay.values()), len(steps))


def funnel_strict(
    fr: Frames, steps: list[str], start: date, end: date, window_days: int
) -> list[int]:
    """Strict funnel: the same replay over all of the person's events; any other event between
    two steps breaks the attempt."""
    frame = _funnel_rows(fr, steps, start, end, strict=True)
    replay = _funnel_replay(frame, steps, window_days, strict=True)
    return _cumulative((best for best, _ in replay.values()), len(steps))


def funnel_unordered(
    fr: Frames, steps: list[str], start: date, end: date, window_days: int
) -> list[int]:
    """Unordered funnel: per step event of a person, the number of steps done in [ts, ts + window]
    (the next event of each step found with merge_asof); the person's best such count."""
    ev = _events(fr, start, end, None)
    ev = ev[ev["event"].isin(steps)]
    frame = pd.DataFrame(
        {
            "pid": ev["person_id"].to_numpy(),
            "ts": ev["timestamp"].dt.as_unit("us").astype("int64").to_numpy(),
            "event": ev["event"].to_numpy(dtype=object),
        }
    )
    window = window_days * 86_400_000_000
    points = frame[["pid", "ts"]].drop_duplicates().sort_values("ts")
    done = np.zeros(len(points), dtype=int)
    for name in steps:
        hits = frame.loc[frame["event"] == name, ["pid", "ts"]].drop_duplicates().sort_values("ts")
        hits["next"] = hits["ts"]
        nxt = pd.merge_asof(points, hits, on="ts", by="pid", direction="forward")["next"]
        done += ((nxt - points["ts"].to_numpy()) <= window).to_numpy()
    furthest = pd.Series(done).groupby(points["pid"].to_numpy()).max()
    return _cumulative(furthest, len(steps))


def funnel_breakdown(
    fr: Frames, steps: list[str], start: date, end: date, window_days: int, prop: str
) -> pd.DataFrame:
    """Ordered funnel per first-touch value of an event property (the person's earliest step
    event in range with the property set); persons without one under None."""
    replay = _funnel_replay(_funnel_rows(fr, steps, start, end, False), steps, window_days, False)
    persons = pd.DataFrame({"best": [best for best, _ in replay.values()]}, index=list(replay))
    ev = _events(fr, start, end, None)
    touch = ev[ev["event"].isin(steps) & ev["person_id"].isin(persons.index) & ev[prop].notna()]
    first = touch.sort_values("timestamp", kind="stable").drop_duplicates("person_id")
    persons["value"] = first.set_index("person_id")[prop].astype(object).reindex(persons.index)
    groups = [
        (None if pd.isna(value) else value, _cumulative(rows["best"], len(steps)))
        for value, rows in persons.groupby("value", dropna=False)
    ]
    groups.sort(key=lambda g: (-g[1][0], g[0] is None, g[0] or ""))
    rows = [
        (value, k, steps[k - 1], counts[k - 1])
        for value, counts in groups
        for k in range(1, len(steps) + 1)
    ]
    return pd.DataFrame(rows, columns=["breakdown", "step", "event", "count"])


def funnel_time_to_convert(
    fr: Frames, steps: list[str], start: date, end: date, window_days: int
) -> pd.DataFrame:
    """Ordered funnel with the mean and median seconds between consecutive steps of each person's
    first attempt that reached their furthest step (0-second gaps left out)."""
    replay = _funnel_replay(_funnel_rows(fr, steps, start, end, False), steps, window_days, False)
    rows = []
    for k in range(1, len(steps) + 1):
        reached = [times for best, times in replay.values() if best >= k]
        gaps = np.array([(t[k - 1] - t[k - 2]) / 1e6 for t in reached]) if k > 1 else np.array([])
        gaps = gaps[gaps > 0]
        rows.append(
            {
                "step": k,
                "event": steps[k - 1],
                "count": len(reached),
                "avg_seconds": gaps.mean() if len(gaps) else np.nan,
                "median_seconds": np.median(gaps) if len(gaps) else np.nan,
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- retention


def retention_weekly(
    fr: Frames,
    start_event: str,
    return_event: str,
    start: date,
    end: date,
    periods: int,
    recurring: bool = False,
) -> pd.DataFrame:
    """Weekly retention (Monday weeks): cohort x period person counts. First-time: a person's cohort
    is the week of their first-ever start event (kept when in range); recurring: every week in
    range in which they did the start event."""
    monday = pd.Timestamp("1970-01-05", tz="UTC")
    first_monday = start - timedelta(days=start.weekday())
    if recurring:
        ev = _events(fr, first_monday, end, start_event)
        cohorts = pd.DataFrame(
            {
                "pid": ev["person_id"].to_numpy(),
                "cohort": (ev["timestamp"].dt.floor("D") - monday).dt.days.to_numpy() // 7,
            }
        ).drop_duplicates()
    else:
        ev = fr["events"]
        base = ev["person_id"].notna() & ~ev["person_id"].isin(fr.test_persons())
        starts = ev.loc[base & (ev["event"] == start_event)].groupby("person_id")["timestamp"].min()
        starts = starts[(starts >= _utc(first_monday)) & (starts < _utc(end) + DAY)]
        cohorts = pd.DataFrame(
            {"pid": starts.index, "cohort": (starts.dt.floor("D") - monday).dt.days.to_numpy() // 7}
        )
    ret = _events(fr, first_monday, end, return_event)
    ret = ret[ret["person_id"].isin(cohorts["pid"])]
    returns = pd.DataFrame(
        {
            "pid": ret["person_id"].to_numpy(),
            "b": (ret["timestamp"].dt.floor("D") - monday).dt.days.to_numpy() // 7,
        }
    ).drop_duplicates()
    joined = cohorts.merge(returns, on="pid")
    joined["period"] = joined["b"] - joined["cohort"]
    joined = joined[(joined["period"] > 0) & (joined["period"] < periods)]
    counts = joined.groupby(["cohort", "period"]).size().to_dict()
    sizes = cohorts.groupby("cohort").size().to_dict()
    b0 = (pd.Timestamp(first_monday, tz="UTC") - monday).days // 7
    b1 = (pd.Timestamp(end, tz="UTC") - monday).days // 7
    rows = [
        (
            (monday + pd.Timedelta(days=7 * c)).date(),
            k,
            sizes.get(c, 0) if k == 0 else counts.get((c, k), 0),
        )
        for c in range(b0, b1 + 1)
        for k in range(periods)
        if c + k <= b1
    ]
    return pd.DataFrame(rows, columns=["cohort", "period", "count"])


# ----------------------------------------------------------------------------- revenue


def _day(series: pd.Series) -> pd.Series:
    return series.dt.floor("D").dt.tz_localize(None)


def segments(fr: Frames) -> pd.DataFrame:
    """Revenue-active segments (customer_id, plan_id, fd, td, amount in minor units), rules of analytics/revenue.py."""
    subs = fr["subscriptions"]
    subs = subs[~subs["customer_id"].isin(fr.test_customers())]
    subs = subs[subs["status"].isin(["active", "past_due", "canceled", "unpaid", "paused"])]
    inv = fr["invoices"]
    paid = inv[(inv["status"] == "paid") & (inv["total_minor"] > 0)]
    # canceled/unpaid with neither ended_at nor canceled_at: the end of the last paid period
    fallback = subs["id"].map(paid.groupby("subscription_id")["period_end"].max())
    ended = subs["ended_at"].where(
        ~subs["status"].isin(["canceled", "unpaid"]),
        subs["ended_at"].fillna(subs["canceled_at"]).fillna(fallback).fillna(subs["started_at"]),
    )
    live = pd.DataFrame(
        {
            "subscription_id": subs["id"],
            "customer_id": subs["customer_id"],
            "status": subs["status"],
            "act_from": _day(
                pd.concat([subs["started_at"], subs["trial_end"]], axis=1).max(axis=1)
            ),
            "act_to": _day(ended),
        }
    )
    items = (
        fr["subscription_items"]
        .merge(live, on="subscription_id")
        .merge(fr["plans"], left_on="plan_id", right_on="id")
    )
    items = items[
        ~items["is_free"].fillna(False).astype(bool)
        & (items["usage_type"].fillna("licensed") != "metered")
        & ~((items["status"] == "paused") & items["valid_to"].isna())
    ]
    per_year = items["interval"].map({"month": 12, "year": 1, "week": 52, "day": 365}).fillna(0)
    count = items["interval_count"].replace(0, np.nan).fillna(1)
    full = (
        items["amount_minor"].astype(float)
        * items["quantity"].fillna(1)
        * per_year
        / (12.0 * count)
    )
    fd = pd.concat([items["act_from"], _day(items["valid_from"])], axis=1).max(axis=1)
    td = pd.concat([items["act_to"], _day(items["valid_to"])], axis=1).min(axis=1)
    de = _day(items["discount_ends_at"])
    pct = items["discount_pct"].astype(float).clip(0, 100).fillna(0)
    disc = pct > 0
    parts = [
        pd.DataFrame(
            {
                "customer_id": items["customer_id"],
                "plan_id": items["plan_id"],
                "fd": fd,
                "td": pd.concat([td, de], axis=1).min(axis=1),
                "amount": full * (100 - pct) / 100,
            }
        )[disc],
        pd.DataFrame(
            {
                "customer_id": items["customer_id"],
                "plan_id": items["plan_id"],
                "fd": fd.where(~disc, pd.concat([fd, de], axis=1).max(axis=1)),
                "td": td,
                "amount": full,
            }
        )[~disc | de.notna()],
    ]
    seg = pd.concat(parts, ignore_index=True)
    seg["amount"] = seg["amount"].round(6)
    return seg[
        (seg["amount"] > 0) & seg["fd"].notna() & (seg["td"].isna() | (seg["td"] > seg["fd"]))
    ]


def _mrr_on(seg: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    active = (seg["fd"] <= day) & (seg["td"].isna() | (seg["td"] > day))
    return seg.loc[active]


def mrr_daily(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """MRR at the end of each day: the segments active that day, summed (a loop over days)."""
    seg = segments(fr)
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    return pd.DataFrame(
        {"date": days.date, "mrr": [float(_mrr_on(seg, d)["amount"].sum()) / 100 for d in days]}
    )


def _snapshots(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """MRR (major units) and paying customers (MRR > 0) at the end of each day (a loop over days)."""
    seg = segments(fr)
    rows = []
    for day in pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D"):
        active = _mrr_on(seg, day)
        rows.append((day.date(), active["amount"].sum() / 100, active["customer_id"].nunique()))
    return pd.DataFrame(rows, columns=["date", "mrr", "paying"])


def arr_daily(fr: Frames, start: date, end: date) -> pd.DataFrame:
    snap = _snapshots(fr, start, end)
    return pd.DataFrame({"date": snap["date"], "arr": snap["mrr"] * 12})


def paying_customers_daily(fr: Frames, start: date, end: date) -> pd.DataFrame:
    snap = _snapshots(fr, start, end)
    return pd.DataFrame({"date": snap["date"], "value": snap["paying"]})


def arpa_daily(fr: Frames, start: date, end: date) -> pd.DataFrame:
    snap = _snapshots(fr, start, end)
    return pd.DataFrame({"date": snap["date"], "value": snap["mrr"] / _nonzero(snap["paying"])})


def _nonzero(values: pd.Series) -> pd.Series:
    """A denominator with 0 turned into NaN (an empty denominator gives no rate)."""
    return values.astype(float).where(values != 0)


def mrr_movements_monthly(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """Customer-level snapshot diff per calendar month (the first whole, the last cut at end)."""
    seg = segments(fr)
    first_paid = seg.groupby("customer_id")["fd"].min()
    rows = []
    month = pd.Timestamp(start.replace(day=1))
    while month.date() <= end:
        nxt = month + pd.offsets.MonthBegin(1)
        d0, d1 = month - DAY, min(nxt - DAY, pd.Timestamp(end))
        p = _mrr_on(seg, d0).groupby("customer_id")["amount"].sum()
        q = _mrr_on(seg, d1).groupby("customer_id")["amount"].sum()
        both = pd.concat([p.rename("p"), q.rename("q")], axis=1).fillna(0)
        both["first"] = first_paid.reindex(both.index)
        p_, q_ = both["p"], both["q"]
        new_or_back = (p_ == 0) & (q_ > 0)
        rows.append(
            {
                "period_start": month.date(),
                "start_mrr": p_.sum() / 100,
                "new": q_[new_or_back & (both["first"] >= month)].sum() / 100,
                "expansion": (q_ - p_)[(p_ > 0) & (q_ > p_)].sum() / 100,
                "contraction": (q_ - p_)[(p_ > 0) & (q_ > 0) & (q_ < p_)].sum() / 100,
                "churn": -p_[(p_ > 0) & (q_ == 0)].sum() / 100,
                "reactivation": q_[new_or_back & (both["first"] < month)].sum() / 100,
                "net_new": (q_.sum() - p_.sum()) / 100,
                "end_mrr": q_.sum() / 100,
                "start_customers": int((p_ > 0).sum()),
                "end_customers": int((q_ > 0).sum()),
                "churned_customers": int(((p_ > 0) & (q_ == 0)).sum()),
            }
        )
        month = nxt
    return pd.DataFrame(rows)


def _rate(frame: pd.DataFrame, num: pd.Series, den: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"period_start": frame["period_start"], "value": num / _nonzero(den)})


def net_new_mrr(fr: Frames, start: date, end: date) -> pd.DataFrame:
    m = mrr_movements_monthly(fr, start, end)
    return pd.DataFrame({"period_start": m["period_start"], "value": m["net_new"]})


def customer_churn_rate(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """Customers paying at the month's start and not at its end / customers paying at its start."""
    m = mrr_movements_monthly(fr, start, end)
    return _rate(m, m["churned_customers"], m["start_customers"])


def gross_mrr_churn_rate(fr: Frames, start: date, end: date) -> pd.DataFrame:
    m = mrr_movements_monthly(fr, start, end)
    return _rate(m, -(m["churn"] + m["contraction"]), m["start_mrr"])


def net_mrr_churn_rate(fr: Frames, start: date, end: date) -> pd.DataFrame:
    m = mrr_movements_monthly(fr, start, end)
    lost = -(m["churn"] + m["contraction"]) - m["expansion"] - m["reactivation"]
    return _rate(m, lost, m["start_mrr"])


def nrr(fr: Frames, start: date, end: date) -> pd.DataFrame:
    m = mrr_movements_monthly(fr, start, end)
    return _rate(m, m["start_mrr"] + m["expansion"] + m["contraction"] + m["churn"], m["start_mrr"])


def grr(fr: Frames, start: date, end: date) -> pd.DataFrame:
    m = mrr_movements_monthly(fr, start, end)
    return _rate(m, m["start_mrr"] + m["contraction"] + m["churn"], m["start_mrr"])


def quick_ratio(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """(new + expansion + reactivation) / (contraction + churn), reactivation included."""
    m = mrr_movements_monthly(fr, start, end)
    return _rate(m, m["new"] + m["expansion"] + m["reactivation"], -(m["contraction"] + m["churn"]))


def ltv(fr: Frames, start: date, end: date, window_months: int = 3) -> pd.DataFrame:
    """ARPA / customer churn rate, both pooled over the trailing `window_months` months."""
    first = (pd.Timestamp(start.replace(day=1)) - pd.DateOffset(months=window_months - 1)).date()
    m = mrr_movements_monthly(fr, first, end)

    def trailing(col: str) -> pd.Series:
        return m[col].rolling(window_months, min_periods=window_months).sum()

    arpa = trailing("end_mrr") / _nonzero(trailing("end_customers"))
    churn = trailing("churned_customers") / _nonzero(trailing("start_customers"))
    out = pd.DataFrame(
        {
            "period_start": m["period_start"],
            "arpa": arpa,
            "churn_rate": churn,
            "value": arpa / churn.where(churn > 0),
        }
    )
    return out[out["period_start"] >= start.replace(day=1)].reset_index(drop=True)


def kpi_progress_mrr(
    fr: Frames, start: date, end: date, department: str | None = None
) -> pd.DataFrame:
    """KPI mrr: MRR at each month end (cut at end) against its goal and the month before."""
    seg = segments(fr)
    month = pd.Timestamp(start.replace(day=1)) - pd.offsets.MonthBegin(1)
    rows = []
    while month.date() <= end:
        nxt = month + pd.offsets.MonthBegin(1)
        last = min(nxt - DAY, pd.Timestamp(end))
        rows.append((month.date(), _mrr_on(seg, last)["amount"].sum() / 100))
        month = nxt
    values = pd.DataFrame(rows, columns=["period_start", "value"])
    values["previous"] = values["value"].shift(1)
    values = values[values["period_start"] >= start.replace(day=1)]
    goals = fr["kpi_goals"]
    goals = goals[
        (goals["kpi"] == "mrr")
        & (goals["department"] == department if department else goals["department"].isna())
        & (goals["period_start"] >= pd.Timestamp(start.replace(day=1)))
        & (goals["period_start"] <= pd.Timestamp(end))
    ]
    goals = pd.DataFrame(
        {"period_start": goals["period_start"].dt.date, "goal": goals["goal"] / 100}
    )
    out = values.merge(goals, on="period_start", how="left")
    out["kpi"] = "mrr"
    out["attainment"] = out["value"] / _nonzero(out["goal"])
    known = out["value"].notna() & out["goal"].notna()
    out["on_track"] = (out["value"] >= out["goal"]).astype(object).where(known, None)
    out["change"] = (out["value"] - out["previous"]) / _nonzero(out["previous"].abs())
    return out[
        ["period_start", "kpi", "value", "goal", "attainment", "on_track", "previous", "change"]
    ]


def _month_starts(start: date, end: date) -> list[pd.Timestamp]:
    return list(pd.date_range(pd.Timestamp(start.replace(day=1)), pd.Timestamp(end), freq="MS"))


def cohort_mrr_retention(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """Per first-paid-month cohort: its MRR at each month end (cut at end) / its MRR at the end of
    each member's first paid day."""
    seg = segments(fr)
    last = pd.Timestamp(end)
    months = _month_starts(start, end)
    first_paid = seg.groupby("customer_id")["fd"].min()
    members = first_paid[(first_paid >= months[0]) & (first_paid <= last)]
    cohort_of = members.dt.to_period("M").dt.start_time
    rows = []
    for cohort in sorted(cohort_of.unique()):
        ids = cohort_of.index[cohort_of == cohort]
        mine = seg[seg["customer_id"].isin(ids)]
        first = mine["customer_id"].map(members)
        at_first = (mine["fd"] <= first) & (mine["td"].isna() | (mine["td"] > first))
        start_mrr = mine.loc[at_first, "amount"].sum()
        for k, month in enumerate(m for m in months if m >= cohort):
            day = min(month + pd.offsets.MonthBegin(1) - DAY, last)
            mrr = _mrr_on(mine, day)["amount"].sum()
            rows.append(
                {
                    "cohort": cohort.date(),
                    "months_since": k,
                    "customers": len(ids),
                    "start_mrr": start_mrr / 100,
                    "mrr": mrr / 100,
                    "value": mrr / start_mrr if start_mrr else np.nan,
                }
            )
    return pd.DataFrame(rows)


def cohort_ltv(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """Cash LTV per first-payment-month cohort: cumulative collected revenue / cohort size."""
    pay = _collected(fr)
    last = pd.Timestamp(end)
    months = _month_starts(start, end)
    positive = pay[(pay["net"] > 0) & pay["customer_id"].notna()]
    first_month = positive.groupby("customer_id")["day"].min().dt.to_period("M").dt.start_time
    members = first_month[(first_month >= months[0]) & (first_month <= last)]
    pay = pay[pay["customer_id"].isin(members.index) & (pay["day"] <= last)]
    by_month = pay.groupby(
        [pay["customer_id"].map(members), pay["day"].dt.to_period("M").dt.start_time]
    )["net"].sum()
    rows = []
    for cohort in sorted(members.unique()):
        size = int((members == cohort).sum())
        total = 0.0
        for k, month in enumerate(m for m in months if m >= cohort):
            revenue = by_month.get((cohort, month), 0.0)
            total += revenue
            rows.append(
                {
                    "cohort": cohort.date(),
                    "months_since": k,
                    "customers": size,
                    "revenue": revenue / 100,
                    "value": total / 100 / size,
                }
            )
    return pd.DataFrame(rows)


def revenue_by_plan(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """Collected revenue per plan (each invoice split over its subscription's items valid at the
    invoice's period start, by list price x quantity) and MRR per plan at the end of `end`."""
    pay = _collected(fr)
    pay = pay[(pay["day"] >= pd.Timestamp(start)) & (pay["day"] <= pd.Timestamp(end))]
    inv = fr["invoices"]
    inv = inv[inv["id"].isin(pay["invoice_id"])]
    inv = pd.DataFrame(
        {
            "invoice_id": inv["id"],
            "subscription_id": inv["subscription_id"],
            "at": inv["period_start"].fillna(inv["created_at"]),
        }
    )
    plans = fr["plans"]
    alloc = inv.merge(fr["subscription_items"], on="subscription_id").merge(
        plans[["id", "amount_minor"]], left_on="plan_id", right_on="id"
    )
    alloc = alloc[
        (alloc["valid_from"].isna() | (alloc["valid_from"] <= alloc["at"]))
        & (alloc["valid_to"].isna() | (alloc["valid_to"] > alloc["at"]))
    ]
    weight = alloc["amount_minor"].astype(float) * alloc["quantity"].fillna(1)
    total = weight.groupby(alloc["invoice_id"]).transform("sum")
    count = weight.groupby(alloc["invoice_id"]).transform("size")
    alloc = alloc.assign(share=np.where(total > 0, weight / total, 1.0 / count))
    split = pay.merge(alloc[["invoice_id", "plan_id", "share"]], on="invoice_id", how="left")
    split["revenue"] = split["net"] * split["share"].fillna(1.0)
    revenue = split.groupby("plan_id", dropna=False)["revenue"].sum()
    mrr = _mrr_on(segments(fr), pd.Timestamp(end)).groupby("plan_id")["amount"].sum()
    out = pd.concat([revenue, mrr.rename("mrr")], axis=1).fillna(0.0)
    out = out.rename_axis("plan_id").reset_index()
    out["plan_id"] = out["plan_id"].astype("Int64")
    out["plan"] = out["plan_id"].map(plans.set_index("id")["name"])
    out["revenue"] /= 100
    out["mrr"] /= 100
    out = out.sort_values(
        ["revenue", "mrr", "plan_id"], ascending=[False, False, True], na_position="last"
    )
    return out[["plan_id", "plan", "revenue", "mrr"]].reset_index(drop=True)


def _collected(fr: Frames) -> pd.DataFrame:
    """Collected payments: succeeded/refunded payments net of refunds, test accounts excluded."""
    pay = fr["payments"]
    pay = pay[pay["status"].isin(["succeeded", "refunded"])]
    pay = pay.merge(
        fr["invoices"][["id", "customer_id"]].rename(columns={"id": "invoice_id"}),
        on="invoice_id",
        how="left",
    )
    pay = pay[~pay["customer_id"].isin(fr.test_customers())]
    refunded = pay["refunded_minor"]
    net = np.where(
        pay["status"] == "succeeded",
        pay["amount_minor"] - refunded.fillna(0),
        pay["amount_minor"] - refunded.fillna(pay["amount_minor"]),
    )
    return pd.DataFrame(
        {
            "invoice_id": pay["invoice_id"].to_numpy(),
            "customer_id": pay["customer_id"].to_numpy(),
            "processor": pay["processor"].to_numpy(),
            "day": _day(pay["created_at"]).to_numpy(),
            "net": net.astype(float),
        }
    )


def revenue_by_processor(fr: Frames, start: date, end: date) -> pd.DataFrame:
    pay = _collected(fr)
    pay = pay[(pay["day"] >= pd.Timestamp(start)) & (pay["day"] <= pd.Timestamp(end))]
    out = (
        pay.groupby("processor").agg(revenue=("net", "sum"), payments=("net", "size")).reset_index()
    )
    out["revenue"] /= 100
    return out.sort_values(["revenue", "processor"], ascending=[False, True]).reset_index(drop=True)


def revenue_trend(fr: Frames, start: date, end: date) -> pd.DataFrame:
    pay = _collected(fr)
    days = pd.date_range(pd.Timestamp(start) - 6 * DAY, pd.Timestamp(end), freq="D")
    daily = pay.groupby("day")["net"].sum().reindex(days, fill_value=0.0)
    out = pd.DataFrame(
        {
            "date": days.date,
            "revenue": daily.to_numpy() / 100,
            "revenue_ma7": daily.rolling(7, min_periods=1).sum().to_numpy() / 700,
        }
    )
    return out.iloc[6:].reset_index(drop=True)


def trial_conversion_cohort(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """Cohort trial conversion by trial-start month, outcomes as of the end of `end`."""
    subs = fr["subscriptions"]
    trials = subs[
        ~subs["customer_id"].isin(fr.test_customers())
        & subs["trial_start"].notna()
        & subs["trial_end"].notna()
    ]
    inv = fr["invoices"]
    inv = inv[(inv["status"] == "paid") & (inv["total_minor"] > 0)]
    paid = trials[["id", "trial_end", "canceled_at"]].merge(
        inv[["subscription_id", "paid_at"]], left_on="id", right_on="subscription_id"
    )
    paid = paid[
        (paid["paid_at"] >= paid["trial_end"])
        & (paid["canceled_at"].isna() | (paid["canceled_at"] >= paid["trial_end"]))
    ]
    conv_at = paid.groupby("id")["paid_at"].min()
    t = trials.set_index("id")
    conv = conv_at.reindex(t.index)
    fail = pd.Series(pd.NaT, index=t.index, dtype=t["trial_end"].dtype)
    canceled_early = conv.isna() & (t["canceled_at"] < t["trial_end"])
    fail[canceled_early] = pd.concat([t["ended_at"], t["trial_end"]], axis=1).min(axis=1)[
        canceled_early
    ]
    rest = conv.isna() & ~canceled_early
    ended = rest & t["ended_at"].notna()
    fail[ended] = pd.concat([t["ended_at"], t["trial_end"]], axis=1).max(axis=1)[ended]
    stopped = (
        rest
        & t["ended_at"].isna()
        & t["status"].isin(["paused", "incomplete_expired", "canceled", "unpaid"])
    )
    fail[stopped] = t["trial_end"][stopped]
    frame = pd.DataFrame(
        {"start_d": _day(t["trial_start"]), "conv_d": _day(conv), "fail_d": _day(fail)}
    )
    last = pd.Timestamp(end)
    frame = frame[frame["start_d"] <= last]
    frame["month"] = frame["start_d"].dt.to_period("M").dt.start_time
    rows = []
    month = pd.Timestamp(start.replace(day=1))
    while month <= last:
        cohort = frame[frame["month"] == month]
        converted = int((cohort["conv_d"] <= last).sum())
        failed = int((cohort["fail_d"] <= last).sum())
        decided = converted + failed
        rows.append(
            {
                "period_start": month.date(),
                "converted": converted,
                "not_converted": failed,
                "pending": len(cohort) - decided,
                "value": converted / decided if decided else np.nan,
            }
        )
        month += pd.offsets.MonthBegin(1)
    return pd.DataFrame(rows)
