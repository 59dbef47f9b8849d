"""Billing simulation: plans, subscriptions (with SCD-2 items), invoices and payments per customer.

One pass per customer in time order. Random numbers come from a pre-drawn pool, so the loop stays
cheap at 100k customers and the output depends only on the seed. Times inside are epoch seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from demo.ids import NAT, US, Calendar, to_ts

DAY = 86_400
MONTH = 30.4375 * DAY
TRIAL_DAYS = 14
INF = float("inf")

# id, name, amount_minor, interval, interval_count, usage_type, is_free
PLANS: list[tuple[int, str, int, str, int, str, bool]] = [
    (1, "Free", 0, "month", 1, "licensed", True),
    (2, "Starter Monthly", 2_900, "month", 1, "licensed", False),
    (3, "Starter Quarterly", 7_900, "month", 3, "licensed", False),
    (4, "Starter Annual", 29_000, "year", 1, "licensed", False),
    (5, "Pro Monthly", 7_900, "month", 1, "licensed", False),
    (6, "Pro Quarterly", 21_900, "month", 3, "licensed", False),
    (7, "Pro Annual", 79_000, "year", 1, "licensed", False),
    (8, "Business Monthly", 19_900, "month", 1, "licensed", False),
    (9, "Business Quarterly", 54_900, "month", 3, "licensed", False),
    (10, "Business Annual", 199_000, "year", 1, "licensed", False),
    (11, "Ticketing Usage", 50, "month", 1, "metered", False),  # per ticket sold; never MRR
]
FREE_PLAN, METERED_PLAN = 1, 11
PERIOD_MONTHS = (1, 3, 12)  # billing kinds: monthly, quarterly, annual
PRICE = {plan_id: amount for plan_id, _, amount, *_ in PLANS}

TAX_RATE = {"GB": 0.20, "DE": 0.19, "FR": 0.20, "NL": 0.21, "ES": 0.21, "SE": 0.25, "AU": 0.10,
            "CA": 0.05, "IN": 0.18}  # fmt: skip
TIER_WEIGHTS = {
    "smb": (0.55, 0.38, 0.07),
    "mid_market": (0.2, 0.5, 0.3),
    "enterprise": (0.05, 0.25, 0.7),
}
SEATS_MEAN = {"smb": 0.6, "mid_market": 2.5, "enterprise": 8.0}
CHURN_PER_MONTH = {"smb": 0.032, "mid_market": 0.02, "enterprise": 0.01}
TRIAL_CONVERSION = {"smb": 0.48, "mid_market": 0.58, "enterprise": 0.66}
KIND_CHURN_FACTOR = (1.0, 0.8, 0.6)

# Behaviours forced on a few customers so even the tiny scale has every case.
FORCED = ("upgrade", "downgrade", "pause_resumed", "pause_current", "past_due", "unpaid",
          "reactivation", "cancel_pending")  # fmt: skip


def plan_id(tier: int, kind: int) -> int:
    return 2 + 3 * tier + kind


@dataclass(slots=True)
class _Sub:
    id: int
    customer_id: int
    processor: str
    payer: str  # payments.processor
    started_at: int
    tax_rate: float
    status: str = "active"
    trial_start: float | None = None
    trial_end: float | None = None
    cancel_at_period_end: bool = False
    canceled_at: float | None = None
    ended_at: float | None = None
    rows: list[list] = field(default_factory=list)  # open item rows (licensed first)


@dataclass(slots=True)
class _State:
    tier: int
    kind: int
    qty: int
    disc_pct: float | None = None
    disc_dur: str | None = None
    disc_ends: float | None = None
    metered: bool = False
    churn: float = 0.0  # voluntary churn per month; 0 = never (test accounts)


@dataclass(frozen=True)
class Billing:
    frames: dict[str, pd.DataFrame]
    active_until: np.ndarray  # epoch seconds per customer index: when its last subscription ended


class _Simulator:
    def __init__(self, rng: np.random.Generator, cal: Calendar, end: int, n_customers: int):
        self.rng, self.cal, self.end = rng, cal, end
        self._pool: list[float] = []
        self._i = 0
        self.subs: list[_Sub] = []
        self.items: list[list] = []
        self.invoices: list[list] = []
        self.payments: list[list] = []
        self.active_until = np.full(n_customers, end, dtype=np.int64)

    # -- randomness -------------------------------------------------------------------------
    def u(self) -> float:
        if self._i >= len(self._pool):
            self._pool = self.rng.random(1 << 16).tolist()
            self._i = 0
        self._i += 1
        return self._pool[self._i - 1]

    def expo(self, mean: float) -> float:
        return -mean * math.log(1.0 - self.u())

    def pick(self, weights: tuple[float, ...]) -> int:
        x, acc = self.u(), 0.0
        for i, w in enumerate(weights):
            acc += w
            if x < acc:
                return i
        return len(weights) - 1

    def between(self, lo: float, hi: float) -> int:
        return int(lo + (hi - lo) * self.u())

    # -- one customer -----------------------------------------------------------------------
    def customer(self, idx: int, cid: int, created: int, segment: str, country: str,
                 is_test: bool, forced: str | None) -> None:  # fmt: skip
        tax = TAX_RATE.get(country, 0.0)
        if is_test:
            state = _State(tier=2, kind=0, qty=2 + int(self.u() * 4))
            self.active_until[idx] = self._paid(
                self._new_sub(cid, "stripe", created, tax), created, state, None, first=True
            )[1]
            return
        processor = ("stripe", "paddle", "manual")[
            self.pick({"smb": (0.75, 0.25, 0.0), "mid_market": (0.65, 0.2, 0.15), "enterprise": (0.4, 0.0, 0.6)}[segment])
        ]  # fmt: skip
        if segment == "enterprise" and forced is None and self.u() < 0.7:
            state = self._state(segment, kind=2)
            outcome, until = self._paid(
                self._new_sub(cid, processor, created, tax), created, state, None, first=True
            )
        elif forced is None and self.u() < 0.28:
            outcome, until = self._free(cid, created, segment, tax)
        else:
            outcome, until = self._trial(cid, processor, created, segment, tax, forced)
        for _ in range(2):  # reactivations: a churned payer signs up again later
            if outcome != "voluntary" or not (forced == "reactivation" or self.u() < 0.18):
                break
            again = (
                until
                + (self.between(30, 90) if forced == "reactivation" else self.between(20, 300))
                * DAY
            )
            if again >= self.end:
                break
            sub = self._new_sub(cid, processor, again, tax)
            outcome, until = self._paid(
                sub, again, self._state(segment), None, first=True, direct=True
            )
        self.active_until[idx] = until

    def _new_sub(self, cid: int, processor: str, start: float, tax: float) -> _Sub:
        payer = {"stripe": "stripe", "paddle": "paddle"}.get(processor) or (
            "bank" if self.u() < 0.6 else "paypal"
        )
        sub = _Sub(len(self.subs) + 1, cid, processor, payer, int(start), tax)
        self.subs.append(sub)
        return sub

    def _state(self, segment: str, kind: int | None = None) -> _State:
        tier = self.pick(TIER_WEIGHTS[segment])
        kind = self.pick((0.65, 0.12, 0.23)) if kind is None else kind
        seats = 1 + int(self.expo(SEATS_MEAN[segment]))
        return _State(
            tier, kind, seats, metered=tier >= 1 and self.u() < 0.15, churn=CHURN_PER_MONTH[segment]
        )

    def _free(self, cid: int, created: int, segment: str, tax: float) -> tuple[str, int]:
        sub = self._new_sub(cid, "stripe", created, tax)
        sub.payer = "stripe"
        self._open_row(sub, FREE_PLAN, 1, created, _State(0, 0, 1))
        if self.u() < 0.10:  # upgrades from free to a paid plan on the same subscription
            t = created + self.expo(90 * DAY)
            if t < self.end:
                self._close_rows(sub, t)
                return self._paid(sub, t, self._state(segment), None, first=False)
        elif self.u() < 0.35:
            t = int(created + self.expo(200 * DAY))
            if t < self.end:
                sub.status, sub.canceled_at, sub.ended_at = "canceled", t, t
                self._close_rows(sub, t)
                return "free_ended", t
        return "free", self.end

    def _trial(self, cid: int, processor: str, created: int, segment: str, tax: float,
               forced: str | None) -> tuple[str, int]:  # fmt: skip
        sub = self._new_sub(cid, processor, created, tax)
        trial_end = created + TRIAL_DAYS * DAY
        sub.trial_start, sub.trial_end = created, trial_end
        state = self._state(segment, kind=0 if forced else None)
        if forced == "upgrade":
            state.tier = min(state.tier, 1)
        elif forced == "downgrade":
            state.tier = 2
        elif forced == "cancel_pending":
            state.kind = 2
        if forced is None and self.u() < 0.15:
            self._discount(state, trial_end)
        self._open_row(sub, plan_id(state.tier, state.kind), state.qty, created, state)
        self._invoice(
            sub, created, trial_end, "subscription_create", 0, 0, created
        )  # the $0 trial invoice
        if trial_end >= self.end:
            sub.status = "trialing"
            if self.u() < 0.25:
                sub.canceled_at = self.between(created, min(trial_end, self.end))
                sub.cancel_at_period_end = True
            return "trialing", self.end
        if forced is None and self.u() >= TRIAL_CONVERSION[segment]:
            self._close_rows(sub, trial_end)
            if self.u() < 0.04:  # trial ended without a payment method
                sub.status = "paused"
                return "paused", trial_end
            sub.status, sub.ended_at = "canceled", trial_end
            if self.u() < 0.5:
                sub.canceled_at, sub.cancel_at_period_end = self.between(created, trial_end), True
            else:
                sub.canceled_at = trial_end
            return "trial_lost", trial_end
        outcome = self._paid(sub, trial_end, state, forced, first=False)
        if outcome[0] in ("active", "voluntary", "pending") and state.tier >= 1 and self.u() < 0.05:
            # a second team of the same customer takes its own subscription
            t = trial_end + self.between(30, 400) * DAY
            if t < min(self.end, outcome[1]):
                second = self._new_sub(cid, processor, t, tax)
                self._paid(second, t, self._state(segment), None, first=True, direct=True)
        return outcome

    def _discount(self, state: _State, anchor: float) -> None:
        kind = self.pick((0.35, 0.5, 0.15))
        if kind == 0:
            state.disc_pct, state.disc_dur = (
                (10.0, 15.0, 20.0)[self.pick((0.4, 0.3, 0.3))],
                "forever",
            )
        elif kind == 1:
            state.disc_pct, state.disc_dur = (
                (20.0, 25.0, 50.0)[self.pick((0.4, 0.4, 0.2))],
                "repeating",
            )
            months = (3, 6, 12)[self.pick((0.4, 0.4, 0.2))]
            state.disc_ends = self.cal.add_months(self.cal.split(int(anchor)), months)
        else:
            state.disc_pct, state.disc_dur = 50.0, "once"

    # -- a paying life ----------------------------------------------------------------------
    def _paid(self, sub: _Sub, anchor: float, state: _State, forced: str | None, *,
              first: bool, direct: bool = False) -> tuple[str, int]:  # fmt: skip
        """Bill `sub` from `anchor` until it ends or pauses or the data ends; return (outcome, active until)."""
        end, cal = self.end, self.cal
        anchor = int(anchor)
        if not any(row[2] != METERED_PLAN for row in sub.rows):  # direct start or free -> paid
            if forced is None and self.u() < 0.1:
                self._discount(state, anchor)
            self._open_row(sub, plan_id(state.tier, state.kind), state.qty, anchor, state)
        if state.metered:
            self._open_row(sub, METERED_PLAN, 1, anchor, None)
        reason = (
            "subscription_create"
            if first
            else ("subscription_cycle" if sub.trial_end else "subscription_update")
        )
        if direct and self.u() < 0.03:  # first payment fails; Stripe expires it after 23 hours
            pe = cal.add_months(cal.split(anchor), PERIOD_MONTHS[state.kind])
            subtotal, discount = self._amounts(state, anchor, True)
            self._invoice(sub, anchor, pe, reason, subtotal, discount, anchor, outcome="void")
            expired = anchor + 23 * 3600
            if expired >= end:
                sub.status = "incomplete"
                return "incomplete", end
            sub.status, sub.ended_at = "incomplete_expired", expired
            self._close_rows(sub, expired)
            return "incomplete", expired

        churn = state.churn
        t_cancel = (
            anchor + self.expo(MONTH / (churn * KIND_CHURN_FACTOR[state.kind])) if churn else INF
        )
        t_invol = anchor + self.expo(MONTH / 0.004) if churn else INF
        t_pause = anchor + self.expo(MONTH / 0.003) if churn and sub.processor != "manual" else INF
        next_change = anchor + self.expo(MONTH / 0.05)
        dunning, pause_months, forced_change = (30 if sub.processor == "manual" else 21), 0, None
        if forced:
            t_cancel = t_invol = t_pause = INF
            if forced in ("upgrade", "downgrade"):
                next_change, forced_change = anchor + 20 * DAY, forced
            elif forced == "pause_resumed":
                t_pause, pause_months = anchor + 40 * DAY, 1
            elif forced == "pause_current":
                t_pause, pause_months = max(anchor, end - 50 * DAY), 4
            elif forced == "past_due":
                t_invol, dunning = end - 5 * DAY, 60
            elif forced == "unpaid":
                t_invol = end - 90 * DAY
                sub.processor, sub.payer = "manual", "bank"
            elif forced == "reactivation":
                t_cancel = anchor + 60 * DAY
            elif forced == "cancel_pending":
                t_cancel = end - 3 * DAY

        split, k, ps, first_paid = cal.split(anchor), 0, anchor, True
        while ps < end:
            pe = cal.add_months(split, (k + 1) * PERIOD_MONTHS[state.kind])
            subtotal, discount = self._amounts(state, ps, first_paid)
            if t_invol < pe:
                cutoff = ps + dunning * DAY
                if cutoff >= end:
                    sub.status, outcome = "past_due", "open"
                elif sub.processor == "manual":
                    sub.status, outcome = "unpaid", "open"
                else:
                    sub.status, outcome = "canceled", "uncollectible"
                    sub.canceled_at = sub.ended_at = cutoff
                    self._close_rows(sub, cutoff)
                self._invoice(sub, ps, pe, reason, subtotal, discount, ps, outcome=outcome)
                return ("involuntary", cutoff) if sub.status == "canceled" else (sub.status, end)
            self._invoice(sub, ps, pe, reason, subtotal, discount, ps)
            reason, first_paid = "subscription_cycle", False
            while next_change < min(pe, end, t_cancel):
                self._change(sub, state, int(next_change), ps, pe, forced_change)
                forced_change = None
                next_change += self.expo(MONTH / 0.05)
            if t_cancel < min(pe, end):
                sub.canceled_at = int(t_cancel)
                sub.cancel_at_period_end = forced is not None or self.u() < 0.85
                ended = pe if sub.cancel_at_period_end else int(t_cancel)
                if ended >= end:
                    return "pending", end
                sub.status, sub.ended_at = "canceled", ended
                self._close_rows(sub, ended)
                return "voluntary", ended
            if t_pause < pe < end:  # pauses take effect at the next renewal
                self._close_rows(sub, pe)
                resume = cal.add_months(
                    cal.split(pe), pause_months or 1 + self.pick((0.5, 0.3, 0.2))
                )
                if resume >= end:
                    sub.status = "paused"
                    return "paused", end
                shift = resume - pe
                t_cancel, t_invol, next_change, t_pause = (
                    t_cancel + shift,
                    t_invol + shift,
                    next_change + shift,
                    INF,
                )
                self._open_row(sub, plan_id(state.tier, state.kind), state.qty, resume, state)
                if state.metered:
                    self._open_row(sub, METERED_PLAN, 1, resume, None)
                split, k, ps = cal.split(resume), 0, resume
                continue
            k, ps = k + 1, pe
        return "active", end

    def _amounts(self, state: _State, ps: int, first_paid: bool) -> tuple[int, int]:
        licensed = PRICE[plan_id(state.tier, state.kind)] * state.qty
        discount = 0
        applies = state.disc_dur != "once" or first_paid
        if state.disc_pct and applies and (state.disc_ends is None or ps < state.disc_ends):
            discount = round(licensed * state.disc_pct / 100)
        usage = 0
        if state.metered:
            usage = int(self.expo(40.0 * PERIOD_MONTHS[state.kind])) * PRICE[METERED_PLAN]
        return licensed + usage, discount

    def _change(
        self, sub: _Sub, state: _State, t: int, ps: int, pe: int, forced: str | None
    ) -> None:
        """A plan, seat or discount change at `t`: close the licensed row and open the next one."""
        kind = (
            forced
            or ("upgrade", "downgrade", "qty_up", "qty_down", "discount")[
                self.pick((0.42, 0.18, 0.25, 0.1, 0.05))
            ]
        )
        old = PRICE[plan_id(state.tier, state.kind)] * state.qty
        if kind == "upgrade":
            if state.tier < 2:
                state.tier += 1
            else:
                state.qty += 1 + int(self.expo(1.0))
        elif kind == "downgrade":
            if state.tier > 0:
                state.tier -= 1
            elif state.qty > 1:
                state.qty -= 1
            else:
                return
        elif kind == "qty_up":
            state.qty += 1 + int(self.expo(0.5 + state.qty * 0.1))
        elif kind == "qty_down":
            if state.qty <= 1:
                return
            state.qty -= 1 + int(self.u() * (state.qty - 1) * 0.3)
        else:
            if (
                state.disc_pct
                and state.disc_dur != "once"
                and (state.disc_ends is None or t < state.disc_ends)
            ):
                return
            state.disc_pct, state.disc_dur, state.disc_ends = (
                20.0,
                "forever",
                None,
            )  # a retention offer
        self._close_rows(sub, t, licensed_only=True)
        self._open_row(sub, plan_id(state.tier, state.kind), state.qty, t, state)
        new = PRICE[plan_id(state.tier, state.kind)] * state.qty
        if new > old:  # proration for the rest of the period
            amount = round((new - old) * (pe - t) / (pe - ps))
            self._invoice(sub, t, pe, "subscription_update", amount, 0, t)

    # -- rows -------------------------------------------------------------------------------
    def _open_row(self, sub: _Sub, plan: int, qty: int, t: float, state: _State | None) -> None:
        pct, dur, ends = (
            (state.disc_pct, state.disc_dur, state.disc_ends)
            if state and plan != FREE_PLAN
            else (None, None, None)
        )
        row = [len(self.items) + 1, sub.id, plan, qty, int(t), None, pct, dur, ends]
        self.items.append(row)
        sub.rows.append(row)

    def _close_rows(self, sub: _Sub, t: float, licensed_only: bool = False) -> None:
        keep = []
        for row in sub.rows:
            if licensed_only and row[2] == METERED_PLAN:
                keep.append(row)
            else:
                row[5] = int(t)
        sub.rows = keep

    # -- invoices and payments --------------------------------------------------------------
    def _invoice(self, sub: _Sub, ps: float, pe: float, reason: str, subtotal: int, discount: int,
                 created: float, outcome: str = "pay") -> None:  # fmt: skip
        net = subtotal - discount
        tax = round(net * sub.tax_rate)
        total = net + tax
        manual = sub.processor == "manual"
        if (
            outcome == "pay" and total > 0 and self.u() < 0.004
        ):  # issued in error, voided, re-issued
            self._invoice_row(
                sub, ps, pe, reason, subtotal, discount, tax, "void", 0, created - 3600, None
            )
        inv_id = len(self.invoices) + 1
        status, paid_at = outcome, None
        if total == 0:
            status, paid_at = "paid", created
        elif outcome == "pay":
            t = created
            if not manual and self.u() < 0.04:  # card declined, the retry succeeds
                self._payment(inv_id, sub, total, t, "failed")
                t += self.between(1, 4) * DAY
            t += self.expo(10 * DAY) + DAY if manual else self.expo(1800)
            status = "open"
            if t < self.end:
                status, paid_at = "paid", t
                self._payment(inv_id, sub, total, t, "succeeded")
        elif not manual:
            for days in (0, 3, 7):
                if created + days * DAY < self.end:
                    self._payment(inv_id, sub, total, created + days * DAY, "failed")
                if outcome == "void":
                    break
        paid = total if status == "paid" else 0
        self._invoice_row(
            sub, ps, pe, reason, subtotal, discount, tax, status, paid, created, paid_at
        )

    def _invoice_row(self, sub: _Sub, ps: float, pe: float, reason: str, subtotal: int, discount: int,
                     tax: int, status: str, paid: int, created: float, paid_at: float | None) -> None:  # fmt: skip
        self.invoices.append([
            len(self.invoices) + 1, sub.customer_id, sub.id, sub.processor, status, reason, int(ps),
            int(pe), subtotal, discount, tax, subtotal - discount + tax, paid, "USD", int(created),
            None if paid_at is None else int(paid_at),
        ])  # fmt: skip

    def _payment(self, inv_id: int, sub: _Sub, amount: int, t: float, status: str) -> None:
        refunded = 0
        if status == "succeeded":
            x = self.u()
            if x < 0.012:
                status, refunded = "refunded", amount
            elif x < 0.022:
                refunded = round(amount * (0.1 + 0.4 * self.u()))
        self.payments.append(
            [len(self.payments) + 1, inv_id, sub.payer, amount, "USD", status, int(t), refunded]
        )


def simulate_billing(rng: np.random.Generator, customers: pd.DataFrame, created_s: np.ndarray,
                     end_s: int, forced: dict[int, str]) -> Billing:  # fmt: skip
    """Plans, subscriptions, subscription_items, invoices and payments for `customers` (sorted by created_at).

    Args:
        rng: the billing random stream.
        customers: the customers frame (id, plan_segment, country, is_test).
        created_s: customers' created_at in epoch seconds.
        end_s: the instant the data ends (epoch seconds); nothing happens at or after it.
        forced: customer index -> one of FORCED, a behaviour that customer must show.

    Returns:
        The frames, ids numbered in time order, and when each customer's last subscription ended.
    """
    first_year = int(pd.Timestamp(int(created_s.min()), unit="s").year) - 1
    cal = Calendar(first_year, int(pd.Timestamp(end_s, unit="s").year) + 3)
    sim = _Simulator(rng, cal, end_s, len(customers))
    for idx, (cid, created, segment, country, is_test) in enumerate(
        zip(
            customers["id"].tolist(),
            created_s.tolist(),
            customers["plan_segment"].tolist(),
            customers["country"].tolist(),
            customers["is_test"].tolist(),
            strict=True,
        )  # fmt: skip
    ):
        sim.customer(idx, cid, created, segment, country, is_test, forced.get(idx))
    return Billing(_frames(sim, rng), sim.active_until)


def _renumber(key_s: np.ndarray, old_ids: np.ndarray) -> np.ndarray:
    """new id for each old id (1-based; index = old id) so that ids follow `key_s`, ties by old id."""
    order = np.lexsort((old_ids, key_s))
    mapping = np.zeros(len(old_ids) + 1, dtype=np.int64)
    mapping[old_ids[order]] = np.arange(1, len(old_ids) + 1)
    return mapping


def _secs(values: list) -> pd.Series:
    arr = np.array([NAT if v is None or v != v else int(v) * US for v in values], dtype=np.int64)
    return to_ts(arr)


def _frames(sim: _Simulator, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    plans = pd.DataFrame(
        PLANS,
        columns=[
            "id",
            "name",
            "amount_minor",
            "interval",
            "interval_count",
            "usage_type",
            "is_free",
        ],
    )
    plans["currency"] = "USD"

    subs = sim.subs
    sub_old = np.array([s.id for s in subs], dtype=np.int64)
    sub_map = _renumber(np.array([s.started_at for s in subs], dtype=np.int64), sub_old)
    token = rng.integers(0, 36**12, size=len(subs), dtype=np.int64)
    subscriptions = pd.DataFrame({
        "id": sub_map[sub_old],
        "customer_id": [s.customer_id for s in subs],
        "status": [s.status for s in subs],
        "started_at": _secs([s.started_at for s in subs]),
        "trial_start": _secs([s.trial_start for s in subs]),
        "trial_end": _secs([s.trial_end for s in subs]),
        "cancel_at_period_end": [s.cancel_at_period_end for s in subs],
        "canceled_at": _secs([s.canceled_at for s in subs]),
        "ended_at": _secs([s.ended_at for s in subs]),
        "processor": [s.processor for s in subs],
        "processor_subscription_id": [
            _processor_ref(s.processor, int(sub_map[s.id]), int(t)) for s, t in zip(subs, token, strict=True)
        ],
    }).sort_values("id", ignore_index=True)  # fmt: skip

    items = pd.DataFrame(sim.items, columns=["id", "subscription_id", "plan_id", "quantity", "valid_from",
                                             "valid_to", "discount_pct", "discount_duration", "discount_ends_at"])  # fmt: skip
    items["subscription_id"] = sub_map[items["subscription_id"].to_numpy()]
    item_map = _renumber(items["valid_from"].to_numpy(np.int64), items["id"].to_numpy(np.int64))
    items["id"] = item_map[items["id"].to_numpy()]
    for col in ("valid_from", "valid_to", "discount_ends_at"):
        items[col] = _secs(items[col].tolist())
    items["discount_pct"] = items["discount_pct"].astype("float64")
    items = items.sort_values("id", ignore_index=True)

    inv_cols = ["id", "customer_id", "subscription_id", "processor", "status", "billing_reason", "period_start",
                "period_end", "subtotal_minor", "discount_minor", "tax_minor", "total_minor", "amount_paid_minor",
                "currency", "created_at", "paid_at"]  # fmt: skip
    invoices = pd.DataFrame(sim.invoices, columns=inv_cols)
    inv_map = _renumber(
        invoices["created_at"].to_numpy(np.int64), invoices["id"].to_numpy(np.int64)
    )
    invoices["id"] = inv_map[invoices["id"].to_numpy()]
    invoices["subscription_id"] = sub_map[invoices["subscription_id"].to_numpy()]
    for col in ("period_start", "period_end", "created_at", "paid_at"):
        invoices[col] = _secs(invoices[col].tolist())
    invoices = invoices.sort_values("id", ignore_index=True)

    payments = pd.DataFrame(sim.payments, columns=["id", "invoice_id", "processor", "amount_minor", "currency",
                                                   "status", "created_at", "refunded_minor"])  # fmt: skip
    payments["invoice_id"] = inv_map[payments["invoice_id"].to_numpy()]
    pay_map = _renumber(
        payments["created_at"].to_numpy(np.int64), payments["id"].to_numpy(np.int64)
    )
    payments["id"] = pay_map[payments["id"].to_numpy()]
    payments["created_at"] = _secs(payments["created_at"].tolist())
    payments = payments.sort_values("id", ignore_index=True)
    return {"plans": plans, "subscriptions": subscriptions, "subscription_items": items,
            "invoices": invoices, "payments": payments}  # fmt: skip


def _processor_ref(processor: str, sub_id: int, token: int) -> str:
    if processor == "manual":
        return f"MAN-{sub_id:06d}"
    text = np.base_repr(token, 36).lower().rjust(12, "0")
    return f"sub_{text}" if processor == "stripe" else f"sub_01h{text}"
