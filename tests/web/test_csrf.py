"""Every form of the desk needs its CSRF token; the Twilio webhooks and the API do not."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, Holiday, OfficeHours, Ticket, TicketNote, User

EXEMPT_PREFIXES = ("api.", "ivr.", "ivr_outbound.")


def post_routes(app: Flask) -> list[Any]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not rule.endpoint.startswith(EXEMPT_PREFIXES)
    ]


def fill(rule: Any, values: dict[str, Any]) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)


def totals(db: Session) -> tuple[int, ...]:
    counts = tuple(
        db.scalar(select(func.count()).select_from(model)) or 0
        for model in (AuditEvent, TicketNote, User, OfficeHours, Holiday)
    )
    db.commit()
    return counts


def test_every_form_post_without_a_token_is_refused(
    app: Flask,
    client: FlaskClient,
    users: dict[str, User],
    login: Callable[..., FlaskClient],
    make_ticket: Callable[..., Ticket],
    db: Session,
) -> None:
    ticket = make_ticket()
    values = {
        "number": ticket.number,
        "item_id": db.scalar(select(OfficeHours.id)),
        "recording_id": ticket.recordings[0].id,
    }
    before = totals(db)
    login(client, users["admin"])
    routes = post_routes(app)
    assert len(routes) >= 20
    for rule in routes:
        url = fill(rule, values)
        response = client.post(url, data={"body": "x", "note": "x", "reason": "x", "text": "x"})
        assert response.status_code == 400, (rule.rule, response.status_code)
        assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)
        # A token made for another session does not count either.
        other = app.test_client()
        token = re.search(
            r'name="csrf-token" content="([^"]+)"', other.get("/login").get_data(as_text=True)
        )
        assert token is not None
        forged = client.post(url, data={"csrf_token": token.group(1), "body": "x"})
        assert forged.status_code == 400, rule.rule
    assert totals(db) == before
    db.expire_all()
    again = db.get(Ticket, ticket.id)
    assert again is not None and again.owner_id is None
    db.commit()


def test_twilio_and_api_blueprints_are_exempt(app: Flask) -> None:
    csrf = app.extensions["csrf"]
    for name in ("ivr", "ivr_outbound", "api"):
        blueprint = app.blueprints.get(name)
        if blueprint is not None:
            assert blueprint in csrf._exempt_blueprints, name


def test_ivr_webhook_is_not_blocked_by_csrf(client: FlaskClient) -> None:
    if "ivr" not in {
        rule.endpoint.split(".")[0] for rule in client.application.url_map.iter_rules()
    }:
        return
    # No signature: the IVR answers 403 by its own check, not 400 from the CSRF guard.
    response = client.post("/ivr/incoming", data={"CallSid": "CA123", "From": "+84912345678"})
    assert response.status_code != 400
