"""Product analytics: persons, sessions and PostHog-style events along the Nexpo funnel, vectorised.

Every user has a signup session at `users.created_at` (pageviews, signup_started, signup_completed);
anonymous visitors have one session and often abandon after signup_started. Return sessions follow
each user's engagement, weekly seasonality and the life of the customer's subscription.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo.ids import DAY_US, US, to_ts, uuid7

COUNTRY_OFFSETS = {"US": -5, "GB": 0, "DE": 1, "FR": 1, "CA": -5, "AU": 10, "NL": 1, "IN": 5, "BR": -3,
                   "ES": 1, "SE": 1, "JP": 9, "MX": -6}  # fmt: skip
_LOCAL_HOURS = (0.2, 0.1, 0.08, 0.07, 0.08, 0.15, 0.35, 0.7, 1.0, 1.2, 1.3, 1.3, 1.2, 1.25, 1.3, 1.25,
                1.1, 0.95, 0.85, 0.8, 0.75, 0.65, 0.5, 0.3)  # fmt: skip

EVENT_NAMES = ("$pageview", "app_opened", "signup_started", "signup_completed", "event_created",
               "event_registered", "ticket_purchased")  # fmt: skip
PV, APP, STARTED, COMPLETED, CREATED, REGISTERED, TICKET = range(7)
UTM = ("google", "direct", "linkedin", "newsletter", "facebook", "partner", "producthunt")
UTM_FIRST = (0.3, 0.25, 0.12, 0.08, 0.1, 0.07, 0.08)
UTM_RETURN = (0.1, 0.6, 0.05, 0.18, 0.03, 0.02, 0.02)
BROWSERS = ("Chrome", "Safari", "Firefox", "Edge", "Mobile Safari", "Samsung Internet")
BROWSER_WEIGHTS = (0.55, 0.2, 0.08, 0.09, 0.05, 0.03)
SITE = "https://nexpo.app"
LANDING = ("/", "/pricing", "/features", "/blog/hybrid-events-guide", "/signup")
APP_PAGES = (
    "/dashboard",
    "/events",
    "/events/new",
    "/tickets",
    "/attendees",
    "/reports",
    "/settings",
    "/billing",
)
URLS = tuple(SITE + p for p in LANDING + APP_PAGES)
TICKET_PRICES = (1_500, 2_500, 4_900, 9_900, 19_900)
TICKET_WEIGHTS = (0.2, 0.3, 0.25, 0.18, 0.07)

ANON_PER_USER = 0.55  # anonymous visitors per user; 70% of them start a signup and abandon it
P_STEP3 = 0.68  # users who ever create or register for an event
P_BUYER = 0.55  # of those, users who buy tickets
P_ACTION = 0.35  # chance a return session of a step-3 user has an action
P_APP = 0.35  # return sessions in the mobile app (app_opened) rather than the web


def local_hour_weights() -> np.ndarray:
    weights = np.array(_LOCAL_HOURS)
    return weights / weights.sum()


def day_weights(start_us: int, days: int, growth: float) -> np.ndarray:
    """Relative activity of each day: exponential growth, quiet weekends, December and August dips."""
    day = np.datetime64(start_us // DAY_US, "D") + np.arange(days)
    weekday = (day.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    month = day.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (day - day.astype("datetime64[M]")).astype(np.int64) + 1
    weight = np.exp(growth * np.arange(days) / days) * np.where(weekday >= 5, 0.45, 1.0)
    weight *= np.where(((month == 12) & (dom >= 20)) | ((month == 1) & (dom <= 2)), 0.55, 1.0)
    return weight * np.where(month == 8, 0.85, 1.0)


def _hour_of_day(rng: np.random.Generator, offsets: np.ndarray) -> np.ndarray:
    hour = (rng.choice(24, size=len(offsets), p=local_hour_weights()) - offsets) % 24
    return hour * 3600 * US + rng.integers(0, 3600 * US, size=len(offsets))


def simulate_activity(rng: np.random.Generator, users: pd.DataFrame, user_created: np.ndarray,
                      customers: pd.DataFrame, active_until: np.ndarray, start_us: int, end_us: int,
                      target_events: int) -> dict[str, pd.DataFrame]:  # fmt: skip
    """persons, sessions and events (sorted by timestamp) for `users` plus anonymous visitors.

    Args:
        users: the users frame (ids 1..U in created_at order); `user_created` is its created_at in µs.
        customers: the customers frame; `active_until` (µs, per customer) ends its users' activity.
        start_us, end_us: the window of the data; no event at or after `end_us`.
        target_events: the number of events to aim for.
    """
    n_users = len(users)
    cust_idx = users["customer_id"].to_numpy() - 1
    offsets_of_country = customers["country"].map(COUNTRY_OFFSETS).to_numpy()
    role = users["role"].to_numpy()
    is_test = customers["is_test"].to_numpy()[cust_idx]

    # Anonymous visitors: one session each, on the same growth curve as signups.
    n_anon = round(ANON_PER_USER * n_users)
    days = (end_us - start_us) // DAY_US
    growth = day_weights(start_us, days, np.log(4.0))
    anon_offsets = rng.choice(list(COUNTRY_OFFSETS.values()), size=n_anon)
    anon_created = np.sort(
        start_us
        + rng.choice(days, size=n_anon, p=growth / growth.sum()) * DAY_US
        + _hour_of_day(rng, anon_offsets)
    )
    n_persons = n_users + n_anon
    person_created = np.concatenate([user_created, anon_created])
    person_offsets = np.concatenate([offsets_of_country[cust_idx], anon_offsets])
    browser = rng.choice(len(BROWSERS), size=n_persons, p=BROWSER_WEIGHTS)
    first_utm = rng.choice(len(UTM), size=n_persons, p=UTM_FIRST)
    step3 = rng.random(n_users) < P_STEP3
    buyer = step3 & (rng.random(n_users) < P_BUYER)
    organiser = np.isin(role, ("owner", "admin"))

    # Return sessions of users, thinned by the weekly pattern and limited to their active life.
    lo = user_created + 3600 * US
    life = rng.exponential(420 * DAY_US, size=n_users).astype(np.int64)
    until = active_until[cust_idx] + rng.integers(0, 14 * DAY_US, size=n_users)
    hi = np.where(is_test, end_us, np.minimum(np.minimum(until, user_created + life), end_us))
    span_days = np.clip(hi - lo, 0, None) / DAY_US
    engagement = (
        rng.lognormal(0.0, 0.8, size=n_users)
        * np.where(organiser, 1.3, 0.9)
        * np.where(is_test, 3.0, 1.0)
    )
    season = day_weights(start_us, days, 0.0)
    season /= season.max()
    signup_events = n_users * 4.3 + n_anon * 2.7
    per_session = (
        (1 - P_APP) / 0.35 + P_APP / 0.5 + P_STEP3 * P_ACTION * 1.25
    )  # mean events per return session
    wanted = max(target_events - signup_events, 0) / per_session
    rate = wanted / max((engagement * span_days).sum(), 1e-9)
    n_cand = rng.poisson(rate * engagement * span_days / season.mean())
    owner = np.repeat(np.arange(n_users), n_cand)
    t = lo[owner] + (rng.random(len(owner)) * (hi - lo)[owner]).astype(np.int64)
    day = (t - start_us) // DAY_US
    keep = rng.random(len(owner)) < season[np.clip(day, 0, days - 1)]
    owner, day = owner[keep], day[keep]
    t = start_us + day * DAY_US + _hour_of_day(rng, person_offsets[owner])
    keep = (t >= lo[owner]) & (t < end_us)
    owner, t = owner[keep], t[keep]

    # All sessions: users' signups, anonymous visits, returns.
    n_ret = len(owner)
    person = np.concatenate([np.arange(n_users), np.arange(n_users, n_persons), owner])
    start = np.concatenate([user_created, anon_created, t])
    # signup kind: 1 user signs up, 2 anonymous starts and abandons, 3 anonymous browses, 0 return
    anon_kind = np.where(rng.random(n_anon) < 0.7, 2, 3)
    signup = np.concatenate(
        [np.ones(n_users, dtype=np.int64), anon_kind, np.zeros(n_ret, dtype=np.int64)]
    )
    n_s = len(person)
    app = (signup == 0) & (rng.random(n_s) < P_APP)
    extra_pv = rng.geometric(np.where(app | (signup > 0), 0.5, 0.35)) - 1
    is_user = person < n_users
    uidx = np.where(is_user, person, 0)
    has_action = is_user & step3[uidx] & (rng.random(n_s) < np.where(signup == 1, 0.4, P_ACTION))
    creates = rng.random(n_s) < np.where(organiser[uidx], 0.6, 0.12)
    action = np.where(has_action, np.where(creates, CREATED, REGISTERED), -1)
    ticket = (action == REGISTERED) & buyer[uidx] & (rng.random(n_s) < 0.7)
    utm = np.where(signup > 0, first_utm[person], rng.choice(len(UTM), size=n_s, p=UTM_RETURN))

    # Tail events after the pageviews, in order.
    tails = np.full((n_s, 4), -1, dtype=np.int64)
    n_tail = np.zeros(n_s, dtype=np.int64)
    for mask, code in (
        ((signup == 1) | (signup == 2), STARTED),
        (signup == 1, COMPLETED),
        (action >= 0, None),
        (ticket, TICKET),
    ):
        rows = np.flatnonzero(mask)
        tails[rows, n_tail[rows]] = action[rows] if code is None else code
        n_tail[rows] += 1
    n_ev = 1 + extra_pv + n_tail
    sess = np.repeat(np.arange(n_s), n_ev)
    first_of = np.cumsum(n_ev) - n_ev
    pos = np.arange(len(sess)) - first_of[sess]
    k = pos - 1 - extra_pv[sess]
    code = np.where(
        pos == 0, np.where(app[sess], APP, PV), np.where(k < 0, PV, tails[sess, np.clip(k, 0, 3)])
    )
    gap = ((3 + rng.exponential(40.0, size=len(sess))) * US).astype(np.int64)
    gap[code == TICKET] += (
        30 + rng.exponential(90.0, size=int((code == TICKET).sum())) * 1
    ).astype(np.int64) * US
    gap[pos == 0] = 0
    offset = np.cumsum(gap)
    ts = start[sess] + offset - offset[first_of[sess]]
    landing = signup[sess] > 0
    url = np.where(
        landing,
        rng.integers(0, len(LANDING), size=len(sess)),
        len(LANDING) + rng.integers(0, len(APP_PAGES), size=len(sess)),
    )
    url = np.where(landing & (pos == 0) & (signup[sess] != 3), LANDING.index("/"), url)
    keep = ts < end_us
    sess, code, ts, url = sess[keep], code[keep], ts[keep], url[keep]

    sessions, session_ids = _sessions(rng, sess, code, ts, url, person, n_s)
    distinct = np.concatenate(
        [users["distinct_id"].to_numpy(dtype=object), uuid7(rng, anon_created)]
    )
    events = _events(rng, sess, code, ts, url, person, utm, browser, session_ids, distinct)
    persons = _persons(users, person_created, first_utm, browser, customers, cust_idx, n_users)
    return {"persons": persons, "sessions": sessions, "events": events}


def _sessions(rng: np.random.Generator, sess: np.ndarray, code: np.ndarray, ts: np.ndarray, url: np.ndarray,
              person: np.ndarray, n_s: int) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
    """One row per session that kept an event; returns the frame and the session id of each session index."""
    count = np.bincount(sess, minlength=n_s)
    first = np.cumsum(count) - count  # events are still grouped by session here
    present = np.flatnonzero(count)
    present = present[np.argsort(ts[first[present]], kind="stable")]  # in order of start
    first = first[present]
    start, stop = ts[first], ts[first + count[present] - 1]
    pageviews = np.bincount(sess, weights=(code == PV), minlength=n_s)[present].astype(np.int64)
    session_ids = np.empty(n_s, dtype=object)
    session_ids[present] = uuid7(rng, start)
    entry = np.where(code[first] == PV, np.array(URLS, dtype=object)[url[first]], None)
    frame = pd.DataFrame({
        "session_id": session_ids[present],
        "person_id": person[present] + 1,
        "start_ts": to_ts(start),
        "end_ts": to_ts(stop),
        "duration_s": (stop - start) // US,
        "pageview_count": pageviews,
        "is_bounce": count[present] == 1,
        "entry_url": entry,
    })  # fmt: skip
    return frame, session_ids


def _events(rng: np.random.Generator, sess: np.ndarray, code: np.ndarray, ts: np.ndarray, url: np.ndarray,
            person: np.ndarray, utm: np.ndarray, browser: np.ndarray, session_ids: np.ndarray,
            distinct: np.ndarray) -> pd.DataFrame:  # fmt: skip
    order = np.argsort(ts, kind="stable")
    sess, code, ts, url = sess[order], code[order], ts[order], url[order]
    who = person[sess]
    ev_utm, ev_browser = utm[sess], browser[who]

    # Properties: pageviews and app opens share a small set of strings; actions are written one by one.
    props = np.empty(len(ts), dtype=object)
    nb, nu = len(BROWSERS), len(URLS)
    pv_table = np.array([
        f'{{"utm_source": "{UTM[i // (nb * nu)]}", "$browser": "{BROWSERS[i // nu % nb]}", "$current_url": "{URLS[i % nu]}"}}'
        for i in range(len(UTM) * nb * nu)
    ], dtype=object)  # fmt: skip
    app_table = np.array(
        [
            f'{{"utm_source": "{UTM[i // nb]}", "$browser": "{BROWSERS[i % nb]}"}}'
            for i in range(len(UTM) * nb)
        ],
        dtype=object,
    )
    is_pv = code == PV
    props[is_pv] = pv_table[(ev_utm[is_pv] * nb + ev_browser[is_pv]) * nu + url[is_pv]]
    plain = ~is_pv & (code != CREATED) & (code != REGISTERED) & (code != TICKET)
    props[plain] = app_table[ev_utm[plain] * nb + ev_browser[plain]]

    # Nexpo event ids: creations number them; registrations pick one created earlier; tickets follow.
    created = code == CREATED
    n_created = np.cumsum(created)
    event_id = np.where(created, n_created, 0)
    registered = np.flatnonzero(code == REGISTERED)
    event_id[registered] = 1 + (
        rng.random(len(registered)) * np.maximum(n_created[registered], 1)
    ).astype(np.int64)
    by_session = np.zeros(len(session_ids), dtype=np.int64)
    by_session[sess[registered]] = event_id[registered]
    tickets = np.flatnonzero(code == TICKET)
    event_id[tickets] = by_session[sess[tickets]]
    price = np.array(TICKET_PRICES)[
        rng.choice(len(TICKET_PRICES), size=len(tickets), p=TICKET_WEIGHTS)
    ]
    for rows in (np.flatnonzero(created), registered):
        props[rows] = [
            f'{{"utm_source": "{UTM[u]}", "$browser": "{BROWSERS[b]}", "event_id": {e}}}'
            for u, b, e in zip(ev_utm[rows], ev_browser[rows], event_id[rows], strict=True)
        ]
    props[tickets] = [
        f'{{"utm_source": "{UTM[u]}", "$browser": "{BROWSERS[b]}", "event_id": {e}, "price_minor": {p}}}'
        for u, b, e, p in zip(
            ev_utm[tickets], ev_browser[tickets], event_id[tickets], price, strict=True
        )
    ]
    return pd.DataFrame({
        "uuid": uuid7(rng, ts),
        "event": np.array(EVENT_NAMES, dtype=object)[code],
        "timestamp": to_ts(ts),
        "distinct_id": distinct[who],
        "person_id": who + 1,
        "session_id": session_ids[sess],
        "properties": props,
    })  # fmt: skip


def _persons(users: pd.DataFrame, created: np.ndarray, first_utm: np.ndarray, browser: np.ndarray,
             customers: pd.DataFrame, cust_idx: np.ndarray, n_users: int) -> pd.DataFrame:  # fmt: skip
    is_test = customers["is_test"].to_numpy()[cust_idx]
    props = [
        f'{{"email": "{e}", "customer_id": {c}, "is_test": {"true" if t else "false"}, '
        f'"$initial_utm_source": "{UTM[u]}", "$initial_browser": "{BROWSERS[b]}"}}'
        for e, c, t, u, b in zip(
            users["email"],
            users["customer_id"],
            is_test,
            first_utm[:n_users],
            browser[:n_users],
            strict=True,
        )
    ]
    props += [
        f'{{"$initial_utm_source": "{UTM[u]}", "$initial_browser": "{BROWSERS[b]}"}}'
        for u, b in zip(first_utm[n_users:], browser[n_users:], strict=True)
    ]
    return pd.DataFrame(
        {
            "id": np.arange(1, len(created) + 1, dtype=np.int64),
            "created_at": to_ts(created),
            "properties": props,
        }
    )
