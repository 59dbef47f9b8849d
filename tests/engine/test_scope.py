"""The row scope rides on the filters: a manager's department is forced, whatever was asked."""

import pytest

from engine.request import scoped_filters
from security.policy import AccessDenied
from security.users import Principal

MANAGER = Principal(2, "manager", "manager", "Sales")


def test_manager_department_replaces_any_requested_department():
    assert scoped_filters(MANAGER, {"department": ["Finance"], "plan": ["Pro Monthly"]}) == {
        "department": ["Sales"],
        "plan": ["Pro Monthly"],
    }
    assert scoped_filters(MANAGER, None) == {"department": ["Sales"]}


def test_unrestricted_roles_keep_their_filters_and_empty_ones_are_dropped():
    analyst = Principal(3, "analyst", "analyst")
    assert scoped_filters(analyst, {"country": ["DE"], "plan": []}) == {"country": ["DE"]}


def test_manager_without_department_sees_nothing():
    with pytest.raises(AccessDenied, match="no department"):
        scoped_filters(Principal(9, "lost", "manager", None), {})


def test_manager_numbers_through_the_engine_are_their_departments(app):
    """End to end through generate_widget: the manager's MRR equals the admin's MRR filtered to Sales."""
    from engine.generate import generate_widget
    from engine.periods import resolve
    from engine.services import EXTENSION_KEY
    from engine.templates import builtin_dashboards

    services = app.server.extensions[EXTENSION_KEY]
    spec = builtin_dashboards()["revenue_overview"]
    window = resolve("30d", "UTC")
    admin = Principal(1, "admin", "admin")
    with app.server.test_request_context():
        mine = generate_widget(spec, "mrr", window, MANAGER, services)
        sales = generate_widget(
            spec, "mrr", window, admin, services, filters={"department": ["Sales"]}
        )
        everyone = generate_widget(spec, "mrr", window, admin, services)
    assert mine.error is None and mine.value == sales.value
    assert 0 < mine.value < everyone.value
