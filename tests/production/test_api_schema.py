"""Schemathesis against /api/v1: every operation of the served OpenAPI document, through WSGI.

With a supervisor's bearer token (sees every department) no generated request gets a 5xx, and
every response has a status the document lists and a body that fits its schema. Without a
token (or with a wrong one) every protected operation answers 401 with the JSON error body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from storage.models import Role, Ticket, User
from tests.web import conftest as web_fixtures
from web.accounts import issue_api_token

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


# The desk's fixtures (users, tickets with audio), shared with tests/web.
make_ticket = web_fixtures.make_ticket
make_user = web_fixtures.make_user
password_hash = web_fixtures.password_hash
wav_bytes = web_fixtures.wav_bytes


@pytest.fixture
def seeded(
    db: Session, make_user: Callable[..., User], make_ticket: Callable[..., Ticket]
) -> dict[str, Any]:
    """A supervisor with a token, and tickets of two departments (one with, one without audio)."""
    supervisor = make_user(Role.SUPERVISOR, name="Giám Sát <b>")
    token = issue_api_token(db, supervisor)
    db.commit()
    tickets = [
        make_ticket("thue"),
        make_ticket("thue", audio=False, business_name=None),
        make_ticket("dau-tu", business_name="<script>alert(1)</script> 100% _x_"),
    ]
    return {"token": token, "numbers": [t.number for t in tickets]}


def _schema(app: Flask) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _operations(schema: Any) -> list[Any]:
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    # Schemathesis leaves out the document's own URL (GET /openapi.json) by itself.
    assert labels >= {
        "GET /tickets",
        "GET /tickets/{number}",
        "GET /tickets/{number}/recording",
    }, labels
    return operations


def test_every_operation_with_a_supervisor_token_conforms_and_never_fails(
    app: Flask, seeded: dict[str, Any]
) -> None:
    schema = _schema(app)
    auth = {"Authorization": f"Bearer {seeded['token']}"}
    for operation in _operations(schema):

        @FUZZ
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=auth, checks=CHECKS)

        fuzz()


def test_real_tickets_through_every_operation_conform(app: Flask, seeded: dict[str, Any]) -> None:
    """Random numbers mostly hit 404s: the seeded tickets check the 200 (and Range) bodies."""
    schema = _schema(app)
    auth = {"Authorization": f"Bearer {seeded['token']}"}
    for number in seeded["numbers"]:
        for path in ("/tickets/{number}", "/tickets/{number}/recording"):
            case = schema[path]["GET"].Case(path_parameters={"number": number})
            response = case.call_and_validate(headers=auth, checks=CHECKS)
            assert response.status_code in (200, 404), (path, number, response.status_code)
    listing = schema["/tickets"]["GET"].Case(query={"q": "100% _x_", "per_page": 100})
    response = listing.call_and_validate(headers=auth, checks=CHECKS)
    assert response.json()["total"] == 1
    ranged = schema["/tickets/{number}/recording"]["GET"].Case(
        path_parameters={"number": seeded["numbers"][0]}
    )
    response = ranged.call_and_validate(headers={**auth, "Range": "bytes=0-99"}, checks=CHECKS)
    assert response.status_code == 206


BAD_AUTHORIZATION = [None, "Bearer ", "Bearer hl_not-a-token", "Basic dXNlcjpwYXNz", "bearer\x00x"]


def test_without_a_valid_token_every_protected_operation_answers_401(
    app: Flask, seeded: dict[str, Any]
) -> None:
    schema = _schema(app)
    for operation in _operations(schema):
        if operation.path == "/openapi.json":
            continue

        @FUZZ
        @given(case=operation.as_strategy(), authorization=st.sampled_from(BAD_AUTHORIZATION))
        def fuzz(case: Any, authorization: str | None) -> None:
            case.headers = {
                k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
            }
            headers = {} if authorization is None else {"Authorization": authorization}
            response = case.call(headers=headers)
            assert response.status_code == 401, (case.path, case.query, response.text[:200])
            assert response.json()["error"]["status"] == 401
            assert response.headers.get("www-authenticate", [""])[0].startswith("Bearer ")
            case.validate_response(response, checks=CHECKS)

        fuzz()


@pytest.mark.parametrize(
    "query",
    [
        {"page": "461168601842738792"},
        {"page": "\u00b2"},
        {"per_page": "\u00b2"},
        {"department": "\u00b2"},
        {"topic": "\u00b9"},
        {"area": "99999999999999999999999"},
    ],
    ids=[
        "page-overflow",
        "page-superscript",
        "per-page-superscript",
        "department-superscript",
        "topic-superscript",
        "area-overflow",
    ],
)
def test_numeric_filters_out_of_range_answer_400(
    app: Flask, seeded: dict[str, Any], query: dict[str, str]
) -> None:
    schema = _schema(app)
    case = schema["/tickets"]["GET"].Case(query=query)
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {seeded['token']}"}, checks=CHECKS
    )
    assert response.status_code == 400
