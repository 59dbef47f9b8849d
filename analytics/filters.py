"""Dimension filters (processor, plan, country, department, user type): which accounts a metric sees.

Every filter selects customers (accounts) by an attribute, and a metric is computed over the
selected accounts only — the same rule for revenue and product metrics, so a filtered MRR and a
filtered DAU describe the same accounts:

- country: `customers.country`;
- department: `customer_departments.department` (a manager's row scope is this filter, forced);
- processor: the account paid at least once through that processor (`payments.processor`);
- plan: the account had a subscription item on that plan (by `plans.name`) at any time;
- user_type: the account has a user with that role (`users.role`); product metrics go further
  and keep only the persons whose own role matches.

With any filter set, events of persons who are not users of an account (anonymous visitors) are
left out. Values of one filter are OR-ed, filters are AND-ed. Filter values are written into the
SQL as quoted literals (validated, quotes doubled), so the filtered query is one text whose cache
key differs from the unfiltered one.

The filter of the running metric is kept in a context variable: `catalog.run_metric` sets it, and
the shared SQL builders of analytics/ (revenue segments and payments, trials, the product metrics'
account rule, KPI counts) read it, so no metric can forget it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

FILTER_NAMES: tuple[str, ...] = ("processor", "plan", "country", "department", "user_type")
_SAFE_VALUE = re.compile(r"^[\w .,&'()/+-]{1,100}$")


class RowFilter(BaseModel):
    """Selected values per dimension; an empty tuple means "all"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    processor: tuple[str, ...] = ()
    plan: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    department: tuple[str, ...] = ()
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

    @property
    def active(self) -> bool:
        return any(getattr(self, name) for name in FILTER_NAMES)

    def restricted_to_department(self, department: str) -> RowFilter:
        """This filter with department forced to `department` (a manager's row scope)."""
        return self.model_copy(update={"department": (department,)})


def _literals(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def customer_condition(filters: RowFilter | None, column: str) -> str:
    """SQL that is true when the customer id in `column` is kept by `filters` ("TRUE" when none)."""
    if filters is None or not filters.active:
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
    if filters.user_type:
        parts.append(
            f"{column} IN (SELECT fu.customer_id FROM users AS fu WHERE fu.role IN ({_literals(filters.user_type)}))"
        )
    return "(" + " AND ".join(parts) + ")"


def person_condition(filters: RowFilter | None, person_column: str) -> str:
    """SQL that is true when the person in `person_column` is a user of a kept account (and, with a
    user_type filter, has that role); "TRUE" when no filter is set."""
    if filters is None or not filters.active:
        return "TRUE"
    role = f" AND fpu.role IN ({_literals(filters.user_type)})" if filters.user_type else ""
    return (
        f"EXISTS (SELECT 1 FROM users AS fpu WHERE fpu.id = {person_column}{role} "
        f"AND {customer_condition(filters, 'fpu.customer_id')})"
    )


_ACTIVE: ContextVar[RowFilter | None] = ContextVar("nexpo_active_filter", default=None)


def current_filter() -> RowFilter | None:
    """The filter of the metric being computed in this context (None outside run_metric)."""
    return _ACTIVE.get()


@contextmanager
def use_filter(filters: RowFilter | None) -> Iterator[None]:
    token = _ACTIVE.set(filters if filters is not None and filters.active else None)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
