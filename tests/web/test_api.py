"""The JSON API: tickets by filter and page, one by number, its recording; errors as JSON;
and the OpenAPI document kept true (routes and document agree, responses fit the schemas)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from storage.models import Ticket, TicketStatus, User, utcnow
from web.accounts import issue_api_token


@pytest.fixture
def bearer(db: Session, users: dict[str, User]) -> Callable[[str], dict[str, str]]:
    def headers(role: str) -> dict[str, str]:
        token = issue_api_token(db, users[role])
        db.commit()
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def doc(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


# --- a small JSON Schema checker for the subset the document uses --------------------------------


def check(value: Any, schema: dict[str, Any], doc: dict[str, Any], path: str = "$") -> list[str]:
    """Return the ways `value` breaks `schema` (type, enum, required, properties, items,
    oneOf, $ref, minimum/maximum)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return check(value, doc["components"]["schemas"][name], doc, path)
    if "oneOf" in schema:
        matches = [s for s in schema["oneOf"] if not check(value, s, doc, path)]
        return [] if len(matches) == 1 else [f"{path}: matches {len(matches)} of oneOf"]
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        kinds = {
            "string": str,
            "object": dict,
            "array": list,
            "boolean": bool,
            "null": type(None),
        }
        ok = False
        for kind in allowed:
            if kind == "integer":
                ok |= isinstance(value, int) and not isinstance(value, bool)
            elif kind == "number":
                ok |= isinstance(value, int | float) and not isinstance(value, bool)
            else:
                ok |= isinstance(value, kinds[kind])
        if not ok:
            return [f"{path}: {value!r} is not {allowed}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key}")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors += check(value[key], sub, doc, f"{path}.{key}")
        if schema.get("type") == "object" and "properties" in schema:
            extra = set(value) - set(schema["properties"])
            if extra:
                errors.append(f"{path}: undocumented {sorted(extra)}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += check(item, schema["items"], doc, f"{path}[{i}]")
    return errors


def assert_documented(response: Any, doc: dict[str, Any], path: str, method: str = "get") -> None:
    operation = doc["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{path} answered {status}, not documented"
    content = operation["responses"][status].get("content", {})
    if response.mimetype == "application/json":
        schema = content["application/json"]["schema"]
        errors = check(response.get_json(), schema, doc)
        assert not errors, "\n".join(errors)
    else:
        assert response.mimetype in content or status == "206", response.mimetype


# --- the document and the routes agree -----------------------------------------------------------


def test_every_api_route_is_documented_and_every_documented_path_exists(
    app: Flask, doc: dict[str, Any]
) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule).removeprefix("/api/v1")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method.lower()))
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented


def test_document_refs_resolve(doc: dict[str, Any]) -> None:
    text = str(doc)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in doc["components"]["schemas"], name
    assert doc["openapi"].startswith("3.")
    assert doc["servers"][0]["url"].endswith("/api/v1")


# --- behaviour, checked against the document -----------------------------------------------------


def test_list_filters_and_pages(
    client: FlaskClient,
    bearer: Callable[[str], dict[str, str]],
    make_ticket: Callable[..., Ticket],
    doc: dict[str, Any],
) -> None:
    now = utcnow()
    tickets = [make_ticket(called_at=now - timedelta(minutes=i)) for i in range(5)]
    resolved = make_ticket(status=TicketStatus.RESOLVED, called_at=now - timedelta(hours=1))
    invest = make_ticket("dau-tu")
    headers = bearer("officer")
    response = client.get("/api/v1/tickets", query_string={"per_page": 2}, headers=headers)
    assert_documented(response, doc, "/tickets")
    body = response.get_json()
    assert body["total"] == 6 and body["pages"] == 3 and len(body["items"]) == 2
    assert [t["number"] for t in body["items"]] == [tickets[0].number, tickets[1].number]
    assert invest.number not in str(body)
    page3 = client.get(
        "/api/v1/tickets", query_string={"per_page": 2, "page": 3}, headers=headers
    ).get_json()
    assert [t["number"] for t in page3["items"]] == [tickets[4].number, resolved.number]
    only = client.get(
        "/api/v1/tickets",
        query_string={
            "status": "resolved",
            "topic": "thue",
            "department": "thue",
            "q": "hoan thue",
        },
        headers=headers,
    ).get_json()
    assert [t["number"] for t in only["items"]] == [resolved.number]
    item = only["items"][0]
    assert item["created_at"].endswith("+07:00")
    assert item["url"].endswith(f"/api/v1/tickets/{resolved.number}")


@pytest.mark.parametrize(
    "query",
    [
        {"status": "lost"},
        {"department": "khong-co"},
        {"from": "2026-13-01"},
        {"per_page": "500"},
        {"page": "-1"},
        {"overdue": "maybe"},
        # Found by fuzzing on PostgreSQL: a NUL byte in a code, a date that overflows in UTC,
        # digits that str.isdigit accepts but int() refuses, a number past the column.
        {"department": "\x00"},
        {"from": "0001-01-01"},
        {"to": "9999-12-31"},
        {"page": "\u00b2"},
        {"area": "99999999999999999999999"},
    ],
)
def test_bad_filters_are_400_with_a_message(
    client: FlaskClient,
    bearer: Callable[[str], dict[str, str]],
    doc: dict[str, Any],
    query: dict[str, str],
) -> None:
    response = client.get("/api/v1/tickets", query_string=query, headers=bearer("supervisor"))
    assert response.status_code == 400
    assert_documented(response, doc, "/tickets")
    assert response.get_json()["error"]["message"]


def test_one_ticket_with_segments_and_attempts(
    client: FlaskClient,
    bearer: Callable[[str], dict[str, str]],
    make_ticket: Callable[..., Ticket],
    doc: dict[str, Any],
    db: Session,
    users: dict[str, User],
) -> None:
    from storage.models import AttemptOutcome, CallbackAttempt

    ticket = make_ticket()
    db.add(
        CallbackAttempt(
            ticket_id=ticket.id,
            user_id=users["staff"].id,
            outcome=AttemptOutcome.NO_ANSWER,
            note="",
        )
    )
    db.commit()
    response = client.get(f"/api/v1/tickets/{ticket.number}", headers=bearer("staff"))
    assert response.status_code == 200
    assert_documented(response, doc, "/tickets/{number}")
    body = response.get_json()
    assert body["status"] == "open" and body["department"] == "thue"
    assert len(body["transcript"]["segments"]) == 3
    assert body["transcript"]["segments"][1]["low_confidence"] is True
    assert body["attempts"][0]["outcome"] == "no_answer"
    assert body["links"]["recording"].endswith(f"/api/v1/tickets/{ticket.number}/recording")


def test_unknown_and_other_departments_tickets_are_the_same_404(
    client: FlaskClient,
    bearer: Callable[[str], dict[str, str]],
    make_ticket: Callable[..., Ticket],
    doc: dict[str, Any],
) -> None:
    ticket = make_ticket()
    headers = bearer("outsider")
    other = client.get(f"/api/v1/tickets/{ticket.number}", headers=headers)
    unknown = client.get("/api/v1/tickets/123", headers=headers)
    assert other.status_code == unknown.status_code == 404
    assert_documented(other, doc, "/tickets/{number}")
    assert (
        client.get(f"/api/v1/tickets/{ticket.number}/recording", headers=headers).status_code == 404
    )


def test_wrong_token_is_401_json(client: FlaskClient, doc: dict[str, Any]) -> None:
    response = client.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert_documented(response, doc, "/tickets")


def test_recording_streams_with_range(
    client: FlaskClient,
    bearer: Callable[[str], dict[str, str]],
    make_ticket: Callable[..., Ticket],
    doc: dict[str, Any],
    wav_bytes: bytes,
) -> None:
    ticket = make_ticket()
    headers = bearer("officer")
    url = f"/api/v1/tickets/{ticket.number}/recording"
    whole = client.get(url, headers=headers)
    assert whole.status_code == 200 and whole.get_data() == wav_bytes
    assert_documented(whole, doc, "/tickets/{number}/recording")
    part = client.get(url, headers={**headers, "Range": "bytes=0-43"})
    assert part.status_code == 206 and part.get_data() == wav_bytes[:44]
    assert_documented(part, doc, "/tickets/{number}/recording")
    silent = make_ticket(audio=False)
    missing = client.get(f"/api/v1/tickets/{silent.number}/recording", headers=headers)
    assert missing.status_code == 404
    assert_documented(missing, doc, "/tickets/{number}/recording")


def test_api_errors_are_json_for_unknown_paths_too(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.is_json
