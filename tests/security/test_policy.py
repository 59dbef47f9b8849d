"""The policy table: every role × action × kind of resource, row scopes, and date caps at the edge."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.periods import Window
from security.policy import (
    ACTIONS,
    AccessDenied,
    EmbedPrincipal,
    RangeTooLong,
    Resource,
    RowScope,
    authorize,
    cap_window,
    embed_scope,
    masks_pii,
    row_scope,
    table,
)
from security.users import Principal

ME = 7
OTHER = 999
PRINCIPALS = {
    "admin": Principal(ME, "ada", "admin"),
    "manager": Principal(ME, "max", "manager", "Sales"),
    "analyst": Principal(ME, "ana", "analyst"),
    "viewer": Principal(ME, "vic", "viewer"),
}

# The resources of the matrix, one letter each.
RESOURCES = {
    "A": Resource.template("kpi_dashboard"),
    "B": Resource.template("revenue_analytics"),
    "G": Resource.template("user_analytics"),
    "H": Resource.template("revenue_overview"),  # the demo's extra: the seed's revenue_report
    "C": Resource("dashboard", "mine", department="Sales", owner_id=ME),
    "D": Resource("dashboard", "colleague", department="Sales", owner_id=OTHER),
    "E": Resource("dashboard", "marketing", department="Marketing", owner_id=OTHER),
    "F": Resource("dashboard", "mkt-shared", "Marketing", OTHER, frozenset({"viewer"})),
    "S": Resource("schedule", "5", "Sales", ME, report="revenue_analytics"),
    "T": Resource("schedule", "6", "Sales", OTHER, report="kpi_dashboard"),
}

# Hand-written from the seed's access_control table (SEED.md) and the rules in security/policy.py:
# 1 = allowed, for resources A B G H C D E F S T.
EXPECTED = {
    "admin": {a: "1111111111" for a in ACTIONS},
    "manager": {
        "create": "0000000010",  # only schedules (the schedule action), their own
        "read": "1111100010",
        "update": "0000000010",
        "delete": "0000000010",
        "export": "1111100010",
        "schedule": "1111100010",
    },
    "analyst": {
        "create": "0000000000",
        "read": "1010100000",
        "update": "0000000000",
        "delete": "0000000000",
        "export": "1010100000",
        "schedule": "0000000000",
    },
    "viewer": {
        "create": "0000000000",
        "read": "1000100100",
        "update": "0000000000",
        "delete": "0000000000",
        "export": "0000000000",
        "schedule": "0000000000",
    },
}

MATRIX = [
    (role, action, letter, EXPECTED[role][action][i] == "1")
    for role in EXPECTED
    for action in ACTIONS
    for i, letter in enumerate(RESOURCES)
]


def _allowed(principal: Principal, action: str, resource: Resource) -> bool:
    try:
        authorize(principal, action, resource)
    except AccessDenied:
        return False
    return True


@pytest.mark.parametrize(("role", "action", "letter", "allowed"), MATRIX)
def test_every_role_action_and_resource_matches_the_table(role, action, letter, allowed):
    assert _allowed(PRINCIPALS[role], action, RESOURCES[letter]) is allowed


def test_the_table_covers_the_four_seed_roles_and_six_actions():
    assert set(table()) == {"admin", "manager", "analyst", "viewer"}
    assert ACTIONS == ("create", "read", "update", "delete", "export", "schedule")


def test_a_denial_carries_a_clear_message_the_action_and_the_resource():
    resource = RESOURCES["B"]
    with pytest.raises(AccessDenied) as caught:
        authorize(PRINCIPALS["viewer"], "read", resource)
    assert caught.value.user_message == (
        "You may not read the template “revenue_analytics”: the viewer role does not include"
        " this report."
    )
    assert (caught.value.action, caught.value.resource, caught.value.status) == (
        "read",
        resource,
        403,
    )
    with pytest.raises(AccessDenied, match="the analyst role may not schedule"):
        authorize(PRINCIPALS["analyst"], "schedule", RESOURCES["A"])
    with pytest.raises(AccessDenied, match="belongs to another department"):
        authorize(PRINCIPALS["manager"], "read", RESOURCES["E"])


@pytest.mark.parametrize("kind", ["user", "role", "department", "audit"])
@pytest.mark.parametrize("action", ACTIONS)
def test_user_role_department_and_audit_management_is_admin_only(kind, action):
    resource = Resource(kind, "x")
    assert _allowed(PRINCIPALS["admin"], action, resource)
    for role in ("manager", "analyst", "viewer"):
        assert not _allowed(PRINCIPALS[role], action, resource)


@pytest.mark.parametrize("kind", ["api_token", "embed"])
def test_tokens_and_embed_links_belong_to_their_owner_or_an_admin(kind):
    mine, theirs = Resource(kind, "1", owner_id=ME), Resource(kind, "2", owner_id=OTHER)
    for role, principal in PRINCIPALS.items():
        assert _allowed(principal, "delete", mine), role
        assert _allowed(principal, "delete", theirs) is (role == "admin"), role


def test_a_manager_without_a_department_gets_nothing():
    lost = Principal(8, "lost", "manager", None)
    assert not _allowed(lost, "read", RESOURCES["A"])
    assert not _allowed(lost, "read", Resource("dashboard", "x", department=None, owner_id=8))
    assert row_scope(lost).sees_nothing
    assert row_scope(lost).cache_key() == "rows=none"


def test_an_unknown_role_or_action_is_denied():
    ghost = Principal(9, "ghost", "superuser")
    with pytest.raises(AccessDenied, match="no valid role"):
        authorize(ghost, "read", RESOURCES["A"])
    with pytest.raises(AccessDenied, match="Unknown action"):
        authorize(PRINCIPALS["admin"], "drop", RESOURCES["A"])
    assert row_scope(ghost).sees_nothing
    assert masks_pii(ghost)


def test_row_scopes_and_their_cache_keys():
    assert row_scope(PRINCIPALS["admin"]) == RowScope(True, None)
    assert row_scope(PRINCIPALS["analyst"]).cache_key() == "rows=all"
    assert row_scope(PRINCIPALS["viewer"]).cache_key() == "rows=all"
    assert row_scope(PRINCIPALS["manager"]) == RowScope(False, "Sales")
    assert row_scope(PRINCIPALS["manager"]).cache_key() == "rows=department:Sales"
    other = Principal(3, "mo", "manager", "Marketing")
    assert row_scope(other).cache_key() != row_scope(PRINCIPALS["manager"]).cache_key()
    assert RowScope.from_claim(RowScope(False, "Sales").to_claim()) == RowScope(False, "Sales")


def test_only_admins_see_pii_unmasked_unless_masking_is_off():
    assert [masks_pii(PRINCIPALS[r]) for r in ("admin", "manager", "analyst", "viewer")] == [
        False,
        True,
        True,
        True,
    ]
    assert not masks_pii(PRINCIPALS["viewer"], enabled=False)


def _embed(issuer: Principal, dashboard: str = "kpi_dashboard") -> EmbedPrincipal:
    scope = embed_scope(issuer)
    return EmbedPrincipal(
        0,
        "embed:x",
        "embed",
        scope["department"],
        dashboard=dashboard,
        issuer_role=scope["role"],
        unrestricted=scope["unrestricted"],
    )


def test_an_embed_principal_reads_its_one_dashboard_with_the_issuers_rows_masked():
    embed = _embed(PRINCIPALS["manager"])
    authorize(embed, "read", Resource.template("kpi_dashboard"))
    assert not _allowed(embed, "read", Resource.template("revenue_analytics"))
    for action in ("create", "update", "delete", "export", "schedule"):
        assert not _allowed(embed, action, Resource.template("kpi_dashboard"))
    assert row_scope(embed) == RowScope(False, "Sales")
    assert row_scope(_embed(PRINCIPALS["admin"])) == RowScope(True, None)
    assert masks_pii(_embed(PRINCIPALS["admin"]))
    window = Window(date(2024, 1, 1), date(2025, 6, 30))
    assert cap_window(embed, window) == Window(date(2024, 7, 1), date(2025, 6, 30))


def _window(end: date, days: int) -> Window:
    return Window(end - timedelta(days=days - 1), end)


@pytest.mark.parametrize(
    ("role", "end", "longest_days"),
    [
        ("viewer", date(2025, 3, 31), 30),
        ("analyst", date(2025, 12, 31), 184),  # Jul 1 - Dec 31: six calendar months
        ("analyst", date(2025, 6, 30), 182),  # Dec 31 - Jun 30
        ("manager", date(2024, 12, 31), 366),  # leap year: Jan 1 - Dec 31
        ("manager", date(2025, 12, 31), 365),
        ("manager", date(2025, 2, 28), 366),  # Feb 29, 2024 - Feb 28, 2025
    ],
)
def test_date_caps_allow_the_longest_window_and_cut_one_day_more(role, end, longest_days):
    principal = PRINCIPALS[role]
    longest = _window(end, longest_days)
    assert cap_window(principal, longest) == longest
    assert cap_window(principal, longest, mode="refuse") == longest
    too_long = _window(end, longest_days + 1)
    assert cap_window(principal, too_long) == longest
    with pytest.raises(RangeTooLong) as caught:
        cap_window(principal, too_long, mode="refuse")
    assert caught.value.status == 403
    assert f"{longest_days + 1} days" in caught.value.user_message


def test_refusal_names_the_cap_in_words():
    with pytest.raises(RangeTooLong, match=r"Your role \(viewer\) may look at 30 days at a time"):
        cap_window(PRINCIPALS["viewer"], _window(date(2025, 3, 31), 90), mode="refuse")
    with pytest.raises(RangeTooLong, match="may look at 1 year"):
        cap_window(PRINCIPALS["manager"], _window(date(2025, 3, 31), 400), mode="refuse")
    with pytest.raises(RangeTooLong, match="may look at 6 months"):
        cap_window(PRINCIPALS["analyst"], _window(date(2025, 3, 31), 200), mode="refuse")


def test_admins_have_no_date_cap_and_unknown_roles_get_the_viewers():
    decade = Window(date(2015, 1, 1), date(2025, 1, 1))
    assert cap_window(PRINCIPALS["admin"], decade, mode="refuse") == decade
    ghost = Principal(9, "ghost", "superuser")
    assert cap_window(ghost, decade).days == 30
