"""Dashboard filters (accounts by dimension, revenue type, user type): what rows a metric sees.

Account filters select customers (accounts) by an attribute, and a metric is computed over the
selected accounts only — the same rule for revenue and product metrics, so a filtered MRR and a
filtered DAU describe the same accounts:

- country: `customers.country`;
- department: `customer_departments.department` (a manager's row scope is this filter, forced);
- processor: the account paid at least once through that processor (`payments.processor`);
- plan: the account had a subscription item on that plan (by `plans.name`) at any time;
- user_role: the account has a user with that role (`users.role`); product metrics go further
  and keep only the persons whose own role matches. (Before the seed's `user_type` existed this
  filter was called `user_type`.)

With any account filter set, events of persons who are not users of an account (anonymous
visitors) are left out. Values of one filter are OR-ed, filters are AND-ed.

Two filters have the seed's fixed values, "all" (or no value) meaning no restriction:

- revenue_type (recurring | one_time): collected revenue from invoices of a subscription
  (`invoices.subscription_id` set) or from invoices without one (and payments without an
  invoice). Only the payment metrics honour it (revenue trend, by processor, by plan); MRR and
  everything built on it is recurring revenue by definition, so they ignore it.
- user_type (active): the persons with at least one event (any event) in the metric's window,
  PostHog's "active". Only the product metrics honour it; revenue metrics ignore it.

Which filters a metric honours is declared in the catalog (`MetricSpec.filters`); the engine
notes the ignored ones on the widget. Filter values are written into the SQL as quoted literals
(validated, quotes doubled), so the filtered query is one text whose cache key differs from the
unfiltered one.

The filter of the running metric is kept in a context variable: `catalog.run_metric` sets it (with
the metric's window, for user_type), and the shared SQL builders of analytics/ (revenue segments
and payments, trials, the product metrics' account rule, KPI counts) read it, so no metric can
forget it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, field_validator

# Filters that select accounts (multi-valued, values read from the warehouse).
ACCOUNT_FILTERS: tuple[str, ...] = ("processor", "plan", "country", "department", "user_role")
# Filters with the seed's fixed values; "all" selects everything.
FILTER_VALUES: dict[str, tuple[str, ...]] = {
    "revenue_type": ("all", "recurring", "one_time"),
    "user_type": ("all", "active"),
}
# The one list of filter names every surface accepts.
FILTER_NAMES: tuple[str, ...] = (*ACCOUNT_FILTERS, *FILTER_VALUES)
_SAFE_VALUE = re.compile(r"^[\w .,&'()/+-]{1,100}$")


class RowFilter(BaseModel):
    """Selected values per filter; an empty tuple (or "all") means "all"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    processor: tuple[str, ...] = ()
    plan: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    department: tuple[str, ...] = ()
    user_role: tuple[str, ...] = ()
    revenue_type: tuple[str, ...] = ()
    user_type: tuple[str, ...] = ()

    @field_validator(*FILTER_NAMES, mode="before")
    @classmethod
    def _values(cls, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [v for v in value.split("|")]
        values = tuple(str(v).strip() for v in value if str(v).strip())
        for v in values:
            if not _SAFE_VALUE.match(v):
                raise ValueError(f"filter value {v!r} has characters a filter value cannot contain")
        return values

    @field_validator(*FILTER_VALUES, mode="after")
    @classmethod
    def _fixed(cls, values: tuple[str, ...], info: Any) -> tuple[str, ...]:
        allowed = FILTER_VALUES[info.field_name]
        for v in values:
            if v not in allowed:
                hint = "; the role filter is user_role" if info.field_name == "user_type" else ""
                raise ValueError(
                    f"{info.field_name} {v!r} is not one of {', '.join(allowed)}{hint}"
                )
        kept = tuple(dict.fromkeys(v for v in values if v != "all"))
        # Both revenue types selected is the same as "all".
        covers = info.field_name == "revenue_type" and len(kept) == len(allowed) - 1
        return () if "all" in values or covers else kept

    @property
    def active(self) -> bool:
        return any(getattr(self, name) for name in FILTER_NAMES)

    @property
    def accounts(self) -> bool:
        """Whether an account filter is set (then anonymous persons are left out)."""
        return any(getattr(self, name) for name in ACCOUNT_FILTERS)

    def only(self, names: tuple[str, ...]) -> RowFilter:
        """This filter with every filter not in `names` cleared (a metric's honoured filters)."""
        return self.model_copy(update={n: () for n in FILTER_NAMES if n not in names})

    def restricted_to_department(self, department: str) -> RowFilter:
        """This filter with department forced to `department` (a manager's row scope)."""
        return self.model_copy(update={"department": (department,)})


@dataclass(frozen=True)
class ActivityWindow:
    """The local days [start, end] in `timezone` that user_type=active looks at."""

    start: date
    end: date
    timezone: str

    def bounds(self) -> tuple[str, str]:
        """TIMESTAMPTZ literals of the window's first instant and the instant after it."""
        zone = ZoneInfo(self.timezone)

        def lit(day: date) -> str:
            moment = datetime.combine(day, time(), zone).astimezone(UTC)
            return f"CAST('{moment.isoformat(sep=' ')}' AS TIMESTAMP WITH TIME ZONE)"

        return lit(self.start), lit(self.end + timedelta(days=1))


def _literals(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def customer_condition(filters: RowFilter | None, column: str) -> str:
    """SQL that is true when the customer id in `column` is kept by the account filters of
    `filters` ("TRUE" when none is set)."""
    if filters is None or not filters.accounts:
        return "TRUE"
    parts = []
    if filters.country:
        parts.append(
            f"{column} IN (SELECT fc.id FROM customers AS fc WHERE fc.country IN ({_literals(filters.country)}))"
        )
    if filters.department:
        parts.append(
            f"{column} IN (SELECT fd.customer_id FROM customer_departments AS fd "
            f"WHERE fd.department IN ({_literals(filters.department)}))"
        )
    if filters.processor:
        parts.append(
            f"{column} IN (SELECT fi.customer_id FROM payments AS fp JOIN invoices AS fi ON fi.id = fp.invoice_id "
            f"WHERE fp.processor IN ({_literals(filters.processor)}))"
        )
    if filters.plan:
        parts.append(
            f"{column} IN (SELECT fs.customer_id FROM subscriptions AS fs "
            "JOIN subscription_items AS fsi ON fsi.subscription_id = fs.id "
            f"JOIN plans AS fpl ON fpl.id = fsi.plan_id WHERE fpl.name IN ({_literals(filters.plan)}))"
        )
    if filters.user_role:
        parts.append(
            f"{column} IN (SELECT fu.customer_id FROM users AS fu WHERE fu.role IN ({_literals(filters.user_role)}))"
        )
    return "(" + " AND ".join(parts) + ")"


def person_condition(filters: RowFilter | None, person_column: str) -> str:
    """SQL that is true when the person in `person_column` is kept: with an account filter, a user
    of a kept account (and, with user_role, of that role); with user_type=active, a person with an
    event in the running metric's window. "TRUE" when neither is set."""
    if filters is None:
        return "TRUE"
    parts = []
    if filters.accounts:
        role = f" AND fpu.role IN ({_literals(filters.user_role)})" if filters.user_role else ""
        parts.append(
            f"EXISTS (SELECT 1 FROM users AS fpu WHERE fpu.id = {person_column}{role} "
            f"AND {customer_condition(filters, 'fpu.customer_id')})"
        )
    if "active" in filters.user_type:
        window = current_window()
        if window is None:
            raise ValueError("user_type=active needs the metric's window (run it via run_metric)")
        since, until = window.bounds()
        parts.append(
            f"{person_column} IN (SELECT fae.person_id FROM events AS fae "
            f"WHERE fae.timestamp >= {since} AND fae.timestamp < {until} "
            "AND fae.person_id IS NOT NULL)"
        )
    return "(" + " AND ".join(parts) + ")" if parts else "TRUE"


def revenue_condition(filters: RowFilter | None, invoice_column: str) -> str:
    """SQL that is true when a payment of the invoice in `invoice_column` is of the selected
    revenue type: recurring = an invoice of a subscription; one_time = an invoice without a
    subscription, or no invoice. "TRUE" when revenue_type is all."""
    if filters is None or not filters.revenue_type:
        return "TRUE"
    recurring = "SELECT fri.id FROM invoices AS fri WHERE fri.subscription_id IS NOT NULL"
    if filters.revenue_type == ("recurring",):
        return f"({invoice_column} IN ({recurring}))"
    return f"({invoice_column} IS NULL OR {invoice_column} NOT IN ({recurring}))"


_ACTIVE: ContextVar[tuple[RowFilter, ActivityWindow | None] | None] = ContextVar(
    "nexpo_active_filter", default=None
)


def current_filter() -> RowFilter | None:
    """The filter of the metric being computed in this context (None outside run_metric, or
    when no filter is set)."""
    active = _ACTIVE.get()
    return None if active is None else active[0]


def current_window() -> ActivityWindow | None:
    """The window of the metric being computed, for user_type=active (None when unknown)."""
    active = _ACTIVE.get()
    return None if active is None else active[1]


@contextmanager
def use_filter(filters: RowFilter | None, window: ActivityWindow | None = None) -> Iterator[None]:
    on = filters is not None and filters.active
    token = _ACTIVE.set((filters, window) if on else None)  # type: ignore[arg-type]
    try:
        yield
    finally:
        _ACTIVE.reset(token)
