"""API tokens on SQLite and PostgreSQL: shown once, stored hashed, verified, revoked; the CLI."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import flask
import pytest
from sqlalchemy import select, text, update

from security import tokens
from security.users import Principal
from store.models import ApiToken, AuditLog, User


def _dump(store) -> str:
    """Every value of every table, as one string."""
    tables = ("users", "api_tokens", "audit_log")
    with store.engine.connect() as conn:
        return repr([list(conn.execute(text(f"SELECT * FROM {t}"))) for t in tables])


def test_issue_returns_the_token_once_and_stores_only_its_hash(store, users):
    plaintext, row = tokens.issue(store, users["analyst"].id, "ci script")
    assert plaintext.startswith("nxp_") and len(plaintext) == 47
    assert row.prefix == plaintext[:12]
    assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in _dump(store)
    assert plaintext[12:] not in _dump(store)
    other, _ = tokens.issue(store, users["analyst"].id, "ci script")
    assert other != plaintext


def test_verify_answers_the_tokens_user_and_notes_the_use(store, users):
    plaintext, row = tokens.issue(store, users["manager"].id, "report bot")
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert tokens.verify(store, plaintext, now=now) == Principal(
        users["manager"].id, "max", "manager", "Sales"
    )
    with store.session() as s:
        assert tokens._utc(s.get(ApiToken, row.id).last_used_at) == now
    tokens.verify(store, plaintext, now=now + timedelta(seconds=30))  # within a minute: no write
    with store.session() as s:
        assert tokens._utc(s.get(ApiToken, row.id).last_used_at) == now
    tokens.verify(store, plaintext, now=now + timedelta(minutes=2))
    with store.session() as s:
        assert tokens._utc(s.get(ApiToken, row.id).last_used_at) == now + timedelta(minutes=2)


@pytest.mark.parametrize(
    "candidate",
    [None, "", "nxp_short", "abc_" + "A" * 43, "nxp_" + "A" * 43, "nxp_" + "A" * 42 + "!"],
)
def test_verify_refuses_malformed_and_unknown_tokens(store, users, candidate):
    tokens.issue(store, users["analyst"].id, "x")
    assert tokens.verify(store, candidate) is None


def test_a_revoked_token_stops_working(store, users):
    plaintext, row = tokens.issue(store, users["analyst"].id, "laptop")
    assert tokens.revoke(store, row.id, users["analyst"]) is True
    assert tokens.revoke(store, row.id, users["analyst"]) is False
    assert tokens.verify(store, plaintext) is None


def test_an_inactive_users_token_stops_working(store, users):
    plaintext, _ = tokens.issue(store, users["viewer"].id, "x")
    with store.session() as s:
        s.execute(update(User).where(User.id == users["viewer"].id).values(is_active=False))
    assert tokens.verify(store, plaintext) is None


def test_only_the_owner_or_an_admin_may_revoke(store, users):
    plaintext, row = tokens.issue(store, users["analyst"].id, "x")
    with pytest.raises(tokens.TokenNotFound):
        tokens.revoke(store, row.id, users["viewer"])
    with pytest.raises(tokens.TokenNotFound):
        tokens.revoke(store, 12345, users["admin"])
    assert tokens.verify(store, plaintext) is not None
    assert tokens.revoke(store, row.id, users["admin"]) is True
    assert tokens.verify(store, plaintext) is None


def test_list_tokens_shows_names_and_prefixes_never_the_secret(store, users):
    first, a = tokens.issue(store, users["analyst"].id, "one")
    _, b = tokens.issue(store, users["analyst"].id, "two")
    tokens.issue(store, users["viewer"].id, "someone else's")
    tokens.revoke(store, a.id, users["analyst"])
    listed = tokens.list_tokens(store, users["analyst"].id)
    assert {t.name for t in listed} == {"one", "two"}
    assert {t.name: t.active for t in listed} == {"one": False, "two": True}
    assert all(t.prefix.startswith("nxp_") and len(t.prefix) == 12 for t in listed)
    assert first not in repr(listed)
    assert not hasattr(listed[0], "token_hash")


def test_bearer_header_parsing():
    assert tokens.bearer_token("Bearer nxp_abc") == "nxp_abc"
    assert tokens.bearer_token("bearer   nxp_abc ") == "nxp_abc"
    assert tokens.bearer_token("Basic dXNlcjpwdw==") is None
    assert tokens.bearer_token("Bearer ") is None
    assert tokens.bearer_token(None) is None


@pytest.fixture
def cli(store):
    server = flask.Flask("tokens-cli-test")
    tokens.register(server, store)
    return server.test_cli_runner()


def test_create_api_token_prints_a_working_token_once(store, users, cli):
    result = cli.invoke(args=["create-api-token", "ana", "--name", "nightly"])
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip()
    assert plaintext.startswith("nxp_") and len(plaintext.splitlines()) == 1
    assert "will not be shown again" in result.stderr
    assert tokens.verify(store, plaintext).username == "ana"
    assert [t.name for t in tokens.list_tokens(store, users["analyst"].id)] == ["nightly"]
    with store.session() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "token.issue"))
    assert entry.detail == {"for_user": "ana", "name": "nightly", "via": "cli"}
    assert plaintext not in _dump(store)


def test_create_api_token_for_an_unknown_user_says_so_in_one_line(store, users, cli):
    result = cli.invoke(args=["create-api-token", "nobody"])
    assert result.exit_code == 2
    assert result.stderr == "Error: no user named 'nobody'.\n"
    assert result.stdout == ""


def test_create_api_token_for_an_inactive_user_is_refused(store, users, cli):
    with store.session() as s:
        s.execute(update(User).where(User.username == "vic").values(is_active=False))
    result = cli.invoke(args=["create-api-token", "vic"])
    assert result.exit_code == 2
    assert result.stderr == "Error: user 'vic' is inactive.\n"
