"""Embed tokens: valid, tampered, wrong secret, expired, revoked, malformed; the ledger; the CSP."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect

from security.embed import (
    MESSAGES,
    EmbedTokenError,
    frame_ancestors,
    issue_embed,
    issue_embed_token,
    list_embeds,
    purge_embeds,
    revoke_embed,
    store_is_revoked,
    verify_embed_token,
)
from security.policy import EmbedPrincipal, Resource, authorize, embed_scope, row_scope
from security.users import Principal
from settings import Settings
from store.db import alembic_config

SECRET = "embed-secret-for-tests-0123456789"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MANAGER = Principal(2, "max", "manager", "Sales")
FILTERS = {"period": "custom", "start": "2026-05-01", "end": "2026-05-31"}


def never(_jti: str) -> bool:
    return False


def _token(**overrides) -> str:
    args = {
        "secret": SECRET,
        "dashboard": "kpi_dashboard",
        "filters": FILTERS,
        "scope": embed_scope(MANAGER),
        "ttl_seconds": 3600,
        "now": NOW,
    }
    return issue_embed_token(**{**args, **overrides})


def _reason(token, *, secret=SECRET, now=NOW, is_revoked=never) -> str:
    with pytest.raises(EmbedTokenError) as caught:
        verify_embed_token(secret, token, now, is_revoked)
    assert caught.value.user_message == MESSAGES[caught.value.reason]
    assert caught.value.status == 403
    return caught.value.reason


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _payload(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_valid_token_gives_its_dashboard_filters_and_scope():
    token = _token()
    assert "=" not in token and token.count(".") == 1
    claims = verify_embed_token(SECRET, token, NOW + timedelta(minutes=59), never)
    assert claims.dashboard == "kpi_dashboard"
    assert claims.filters == FILTERS
    assert claims.scope == {"role": "manager", "unrestricted": False, "department": "Sales"}
    assert (claims.issued_at, claims.expires_at) == (NOW, NOW + timedelta(hours=1))
    assert len(claims.jti) >= 16


def test_the_claims_principal_reads_only_its_dashboard_with_the_issuers_rows():
    claims = verify_embed_token(SECRET, _token(), NOW, never)
    principal = claims.principal()
    assert isinstance(principal, EmbedPrincipal)
    assert (principal.role, principal.dashboard, principal.issuer_role) == (
        "embed",
        "kpi_dashboard",
        "manager",
    )
    assert row_scope(principal).cache_key() == "rows=department:Sales"
    authorize(principal, "read", Resource.template("kpi_dashboard"))
    with pytest.raises(Exception, match="only shows its own dashboard"):
        authorize(principal, "read", Resource.template("revenue_analytics"))


def test_a_changed_payload_is_tampered():
    token = _token()
    payload = _payload(token)
    payload["s"] = {"role": "admin", "unrestricted": True, "department": None}
    forged = _b64(json.dumps(payload, separators=(",", ":")).encode()) + "." + token.split(".")[1]
    assert _reason(forged) == "tampered"
    payload = _payload(token)
    payload["exp"] += 10**6
    forged = _b64(json.dumps(payload, separators=(",", ":")).encode()) + "." + token.split(".")[1]
    assert _reason(forged) == "tampered"


def test_a_changed_signature_is_tampered():
    part, sig = _token().split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    assert _reason(f"{part}.{flipped}") == "tampered"
    assert _reason(f"{part}.{_b64(b'x' * 32)}") == "tampered"
    assert _reason(f"{part}.{_b64(b'')}AA") == "tampered"


def test_a_token_signed_with_another_secret_is_refused():
    assert _reason(_token(secret="another-secret")) == "tampered"
    assert _reason(_token(), secret="") == "tampered"


def test_an_expired_token_is_refused_at_the_second_it_expires():
    token = _token(ttl_seconds=60)
    verify_embed_token(SECRET, token, NOW + timedelta(seconds=59), never)
    assert _reason(token, now=NOW + timedelta(seconds=60)) == "expired"
    assert _reason(token, now=NOW + timedelta(days=3)) == "expired"


def test_a_token_from_the_future_is_refused():
    token = _token(now=NOW + timedelta(minutes=5))
    assert _reason(token) == "tampered"
    verify_embed_token(SECRET, _token(now=NOW + timedelta(seconds=30)), NOW, never)


def test_a_revoked_token_is_refused_and_a_failing_check_refuses_too():
    token = _token(jti="jti-revoked-0001")
    assert _reason(token, is_revoked=lambda jti: jti == "jti-revoked-0001") == "revoked"

    def broken(_jti: str) -> bool:
        raise RuntimeError("database down")

    assert _reason(token, is_revoked=broken) == "revoked"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "no-dot-at-all",
        "a.b.c",
        "!!!.???",
        "abc.",
        ".abc",
        "x" * 5000,
    ],
)
def test_malformed_tokens_are_refused(token):
    assert _reason(token) == "malformed"


def test_a_well_signed_but_malformed_payload_is_refused():
    from security.embed import _sign

    for body in (b"not json", b"[1,2]", b'{"v":1}', b'{"v":2,"d":"x"}'):
        part = _b64(body)
        token = f"{part}.{_b64(_sign(SECRET, part))}"
        assert _reason(token) == "malformed", body
    good = _payload(_token())
    good["s"]["role"] = "root"
    part = _b64(json.dumps(good).encode())
    assert _reason(f"{part}.{_b64(_sign(SECRET, part))}") == "malformed"


def test_issuing_refuses_an_empty_secret_and_silly_lifetimes():
    with pytest.raises(ValueError, match="EMBED_SECRET is empty"):
        _token(secret="")
    with pytest.raises(ValueError, match="ttl_seconds"):
        _token(ttl_seconds=0)
    with pytest.raises(ValueError, match="ttl_seconds"):
        _token(ttl_seconds=31 * 24 * 3600)


def test_issued_links_are_recorded_checked_and_revocable(store, users):
    manager = users["manager"]
    token, claims = issue_embed(
        store, SECRET, manager, "kpi_dashboard", {"period": "30d"}, 3600, NOW
    )
    is_revoked = store_is_revoked(store)
    assert verify_embed_token(SECRET, token, NOW, is_revoked).jti == claims.jti
    assert claims.scope == {"role": "manager", "unrestricted": False, "department": "Sales"}
    (info,) = list_embeds(store, issued_by=manager.id)
    assert (info.jti, info.dashboard, info.expires_at) == (
        claims.jti,
        "kpi_dashboard",
        NOW + timedelta(hours=1),
    )
    with pytest.raises(LookupError):
        revoke_embed(store, claims.jti, users["viewer"])
    assert revoke_embed(store, claims.jti, manager) is True
    assert revoke_embed(store, claims.jti, users["admin"]) is False
    assert _reason(token, is_revoked=is_revoked) == "revoked"
    assert list_embeds(store)[0].revoked_at is not None


def test_a_validly_signed_token_never_issued_here_is_refused(store, users):
    forged = _token(jti="minted-with-a-leaked-secret")
    assert _reason(forged, is_revoked=store_is_revoked(store)) == "revoked"


def test_purge_drops_ledger_rows_a_week_after_expiry(store, users):
    issue_embed(store, SECRET, users["admin"], "a", {}, 60, NOW - timedelta(days=9))
    issue_embed(store, SECRET, users["admin"], "b", {}, 60, NOW - timedelta(days=2))
    assert purge_embeds(store, NOW) == 1
    assert [e.dashboard for e in list_embeds(store)] == ["b"]


def test_the_embed_tokens_migration_upgrades_and_downgrades(store):
    assert "embed_tokens" in inspect(store.engine).get_table_names()
    config = alembic_config(store.url)
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
    store.engine.dispose()
    assert "embed_tokens" not in inspect(store.engine).get_table_names()
    store.migrate()
    columns = {c["name"] for c in inspect(store.engine).get_columns("embed_tokens")}
    assert columns == {
        "jti",
        "dashboard",
        "issued_by",
        "issued_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
    }


def test_the_model_matches_the_migrations(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from store.models import Base

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "embed_tokens" in repr(d)] == []


@pytest.fixture
def origins(tmp_path):
    def settings(value: str) -> Settings:
        return Settings.from_env({"EMBED_ALLOWED_ORIGINS": value, "INSTANCE_PATH": str(tmp_path)})

    return settings


def test_frame_ancestors_lists_self_and_the_allowed_origins(origins):
    assert frame_ancestors(origins("")) == "frame-ancestors 'self'"
    assert (
        frame_ancestors(origins("https://app.nexpo.example, http://localhost:8051/"))
        == "frame-ancestors 'self' https://app.nexpo.example http://localhost:8051"
    )
    assert (
        frame_ancestors(origins("https://*.nexpo.example"))
        == "frame-ancestors 'self' https://*.nexpo.example"
    )


def test_frame_ancestors_skips_values_that_would_widen_or_break_the_header(origins, caplog):
    bad = "*, https://ok.example; script-src *, https://x.example/path, 'unsafe-inline', javascript:alert(1)"
    assert frame_ancestors(origins(bad)) == "frame-ancestors 'self'"
    assert "skipping" in caplog.text
