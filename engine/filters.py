"""Dashboard filters: the values each dimension filter offers, read from the warehouse (cached)."""

from __future__ import annotations

import logging

from datasources.base import Query
from datasources.errors import DataSourceError
from engine.services import Services
from engine.spec import FILTER_NAMES, FILTER_VALUES
from security.policy import row_scope
from security.users import Principal

log = logging.getLogger(__name__)

LABELS = {
    "processor": "Processor",
    "plan": "Plan",
    "country": "Country",
    "department": "Department",
    "user_role": "User role",
    "revenue_type": "Revenue type",
    "user_type": "User type",
}

# One round trip for every list; portable between DuckDB and PostgreSQL. Test customers are left
# out (METRICS.md excludes them everywhere), so a filter never offers a value with no real rows.
OPTIONS_SQL = """
SELECT 'processor' AS name, processor AS value FROM payments WHERE processor IS NOT NULL
UNION
SELECT 'plan', name FROM plans WHERE name IS NOT NULL AND NOT is_free
UNION
SELECT 'country', country FROM customers WHERE country IS NOT NULL AND NOT is_test
UNION
SELECT 'department', department FROM customer_departments WHERE department IS NOT NULL
UNION
SELECT 'user_role', role FROM users WHERE role IS NOT NULL
"""


def filter_options(services: Services, principal: Principal | None = None) -> dict[str, list[str]]:
    """The values of each filter: the account filters' from the warehouse (sorted), revenue_type's
    and user_type's fixed ones (without "all", which is no selection).

    Args:
        services: the app's services; the query goes through the warehouse's query cache.
        principal: when given, a principal who sees one department's rows is offered only it.

    Returns:
        Every filter name with its values; empty lists when the warehouse cannot answer (the
        dashboard still works, its filters offer nothing).
    """
    options: dict[str, list[str]] = {name: [] for name in FILTER_NAMES}
    fixed = {name: [v for v in values if v != "all"] for name, values in FILTER_VALUES.items()}
    try:
        source = services.sources.cached("warehouse", "filters")
        frame = source.fetch(Query(OPTIONS_SQL))
    except DataSourceError as exc:
        log.warning("filter options unavailable: %s", exc)
        return {**options, **fixed}
    for name, value in zip(frame["name"], frame["value"], strict=True):
        if name in options:
            options[name].append(str(value))
    for values in options.values():
        values.sort()
    options.update(fixed)
    if principal is not None:
        scope = row_scope(principal)
        if not scope.unrestricted:
            options["department"] = [d for d in options["department"] if d == scope.department]
    return options
