"""schemathesis against /api/openapi.json on the live app: no 5xx, nothing that breaks the schema.

Every documented operation (ours and the other API modules') is exercised with generated valid
inputs, signed in as an admin through a bearer token (a fresh one per request, since the fuzzer
may revoke tokens through DELETE /api/tokens/{id}). The figures are printed for the closing note.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 25


def test_openapi_document_is_valid_and_lists_the_api(client):
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    for path in (
        "/api/reports",
        "/api/reports/{id}",
        "/api/reports/{id}/preview",
        "/api/templates",
        "/api/templates/{key}",
        "/api/dashboards",
        "/api/dashboards/{id}",
        "/api/dashboards/{id}/embed",
        "/api/embeds",
        "/api/embeds/{jti}",
        "/api/tokens",
        "/api/tokens/{id}",
    ):
        assert path in document["paths"], path


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(app, bearer, capsys):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app.server)
    sent = {"requests": 0}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            sent["requests"] += 1
            case.call_and_validate(headers=bearer("admin"), checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect all, fail once
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    with capsys.disabled():
        print(
            f"\nschemathesis: {operations} operations, {sent['requests']} requests sent, "
            f"{len(failures)} failing operations"
        )
    assert operations >= 12
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("path", ["/api/reports", "/api/tokens", "/api/dashboards/x/embed"])
def test_without_credentials_the_api_answers_401_json(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
