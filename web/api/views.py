"""The API's views: tickets (list, one by number, its recording) and the OpenAPI document.

Every answer is JSON, errors too: 401 for a missing or wrong token, 404 for an unknown ticket
and for another department's ticket alike, 400 for a bad filter, with a clear message.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from storage.models import Area, Department, Ticket, Topic, User
from tickets.serialize import iso_local, ticket_to_dict
from web.access import visible_ticket
from web.accounts import user_for_token
from web.api.openapi import openapi_document
from web.deps import current_time
from web.errors import json_error
from web.formatting import office_tz
from web.listing import (
    earlier_tickets,
    is_overdue,
    page_of,
    parse_filters,
    parse_page,
    ticket_query,
)
from web.views.tickets import send_recording

bp = Blueprint("api", __name__, url_prefix="/api/v1")

DEFAULT_PER_PAGE = 20
_PUBLIC_ENDPOINTS = {"api.openapi"}


@bp.before_request
def authenticate_token() -> Any:
    """Find the user from the bearer token; answer 401 without one."""
    if request.endpoint in _PUBLIC_ENDPOINTS:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = user_for_token(g.db, token.strip()) if scheme.lower() == "bearer" and token else None
    if user is None:
        response = json_error(401, "A valid bearer token is required (Authorization: Bearer …).")
        response.headers["WWW-Authenticate"] = 'Bearer realm="hotline", error="invalid_token"'
        return response
    g.api_user = user
    return None


def api_user() -> User:
    """Return the user the token belongs to."""
    user: User = g.api_user
    return user


@bp.get("/tickets")
def list_tickets() -> Any:
    """List the tickets the token's user may see, newest first, filtered and paged."""
    args, errors = _resolve_codes(request.args)
    filters = parse_filters(args)
    page, per_page, page_errors = parse_page(request.args, default_per_page=DEFAULT_PER_PAGE)
    errors += [*filters.errors, *page_errors]
    if errors:
        return json_error(400, "; ".join(errors))
    now = current_time()
    tz = office_tz()
    stmt = ticket_query(api_user(), filters, now=now, tz=tz)
    result = page_of(g.db, stmt, page=page, per_page=per_page)
    return jsonify(
        {
            "items": [_summary(t, now) for t in result.items],
            "page": result.page,
            "per_page": result.per_page,
            "total": result.total,
            "pages": result.pages,
        }
    )


@bp.get("/tickets/<number>")
def get_ticket(number: str) -> Any:
    """Return one ticket with its transcript segments, attempts and status."""
    ticket = visible_ticket(g.db, api_user(), number)
    if ticket is None:
        return json_error(404, f"No ticket {number} in your departments.")
    earlier = earlier_tickets(g.db, api_user(), ticket)
    data = ticket_to_dict(ticket, office_tz(), earlier=earlier)
    data["overdue"] = is_overdue(ticket, current_time())
    data["links"] = _links(ticket)
    return jsonify(data)


@bp.get("/tickets/<number>/recording")
def get_recording(number: str) -> Response:
    """Return the ticket's latest stored recording (HTTP Range supported)."""
    ticket = visible_ticket(g.db, api_user(), number)
    if ticket is None:
        return json_error(404, f"No ticket {number} in your departments.")  # type: ignore[no-any-return]
    if not any(r.audio_key for r in ticket.recordings):
        return json_error(404, f"Ticket {number} has no stored recording.")  # type: ignore[no-any-return]
    return send_recording(ticket, None)


@bp.get("/openapi.json")
def openapi() -> Any:
    """Return the OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(server_url=url_for("api.list_tickets", _external=True)))


def _links(ticket: Ticket) -> dict[str, str | None]:
    has_audio = any(r.audio_key for r in ticket.recordings)
    return {
        "self": url_for("api.get_ticket", number=ticket.number, _external=True),
        "recording": (
            url_for("api.get_recording", number=ticket.number, _external=True)
            if has_audio
            else None
        ),
        "page": url_for("tickets.show", number=ticket.number, _external=True),
    }


def _summary(ticket: Ticket, now: Any) -> dict[str, Any]:
    tz = office_tz()
    return {
        "number": ticket.number,
        "status": ticket.status.value,
        "kind": ticket.kind.value,
        "caller": ticket.caller,
        "business_name": ticket.business_name,
        "topic": ticket.topic.code if ticket.topic else None,
        "department": ticket.department.code if ticket.department else None,
        "area": ticket.area.name if ticket.area else None,
        "created_at": iso_local(ticket.called_at, tz),
        "callback_due_at": iso_local(ticket.callback_due_at, tz),
        "overdue": is_overdue(ticket, now),
        "owner": ticket.owner.email if ticket.owner else None,
        "url": url_for("api.get_ticket", number=ticket.number, _external=True),
    }


_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,59}")


def _resolve_codes(raw: Any) -> tuple[dict[str, str], list[str]]:
    """Accept department, topic and area by code (as the API documents) or by id."""
    args = {key: raw.get(key) for key in raw}
    errors: list[str] = []
    for name, model in (("department", Department), ("topic", Topic), ("area", Area)):
        value = (args.get(name) or "").strip()
        if value and not value.isdigit():
            # Codes are short slugs ("thue", "tai-chinh"); anything else names nothing and must
            # not reach the database (PostgreSQL refuses a NUL byte in a query).
            is_code = _CODE.fullmatch(value) is not None
            found = g.db.scalar(select(model.id).where(model.code == value)) if is_code else None
            if found is None:
                errors.append(f"unknown {name}: {value}")
                args.pop(name)
            else:
                args[name] = str(found)
    return args, errors
