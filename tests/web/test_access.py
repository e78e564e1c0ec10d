"""Who may open what: every role against every page, action and API endpoint.

Officers and callback staff see only their departments' tickets (another department's ticket
is a 404, like a ticket that does not exist); supervisors and admins see all; reports are for
supervisors and admins, settings for admins; everything needs a login except the login page
(and the Twilio webhooks, which are signed instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Holiday, OfficeHours, Ticket, User
from web.accounts import issue_api_token

ROLES = ("admin", "supervisor", "officer", "staff", "outsider")
EVERYONE = frozenset(ROLES)
HANDLERS = frozenset({"admin", "supervisor", "officer", "outsider"})
SUPERVISORS = frozenset({"admin", "supervisor"})
ADMINS = frozenset({"admin"})


@dataclass(frozen=True)
class Endpoint:
    endpoint: str
    method: str
    url: str  # with {number}, {recording}, {user}, {hours}, {holiday}
    roles: frozenset[str]  # roles the permission allows
    scoped: bool = False  # about one ticket: 404 for another department's officer


ENDPOINTS = [
    Endpoint("auth.home", "GET", "/", EVERYONE),
    Endpoint("tickets.index", "GET", "/tickets/", EVERYONE),
    Endpoint("tickets.updates", "GET", "/tickets/updates?after=0", EVERYONE),
    Endpoint("tickets.show", "GET", "/tickets/{number}", EVERYONE, scoped=True),
    Endpoint(
        "tickets.audio",
        "GET",
        "/tickets/{number}/recordings/{recording}/audio",
        EVERYONE,
        scoped=True,
    ),
    Endpoint(
        "tickets.correct_transcript", "POST", "/tickets/{number}/transcript", HANDLERS, scoped=True
    ),
    Endpoint("tickets.add_note", "POST", "/tickets/{number}/notes", EVERYONE, scoped=True),
    Endpoint("tickets.reassign", "POST", "/tickets/{number}/reassign", HANDLERS, scoped=True),
    Endpoint("tickets.change_topic", "POST", "/tickets/{number}/topic", HANDLERS, scoped=True),
    Endpoint("tickets.resolve", "POST", "/tickets/{number}/resolve", HANDLERS, scoped=True),
    Endpoint("queue.index", "GET", "/queue/", EVERYONE),
    Endpoint("queue.item", "GET", "/queue/{number}", EVERYONE, scoped=True),
    Endpoint("queue.claim", "POST", "/queue/{number}/claim", EVERYONE, scoped=True),
    Endpoint("queue.release", "POST", "/queue/{number}/release", EVERYONE, scoped=True),
    Endpoint("queue.call", "POST", "/queue/{number}/call", EVERYONE, scoped=True),
    Endpoint("queue.attempt", "POST", "/queue/{number}/attempt", EVERYONE, scoped=True),
    Endpoint("reports.index", "GET", "/reports/", SUPERVISORS),
    Endpoint("reports.export", "GET", "/reports/export.csv", SUPERVISORS),
    Endpoint("settings.index", "GET", "/settings/", ADMINS),
    Endpoint("settings.departments", "GET", "/settings/departments", ADMINS),
    Endpoint("settings.departments", "POST", "/settings/departments", ADMINS),
    Endpoint("settings.department", "GET", "/settings/departments/1", ADMINS),
    Endpoint("settings.department", "POST", "/settings/departments/1", ADMINS),
    Endpoint("settings.topics", "GET", "/settings/topics", ADMINS),
    Endpoint("settings.topics", "POST", "/settings/topics", ADMINS),
    Endpoint("settings.topic", "GET", "/settings/topics/1", ADMINS),
    Endpoint("settings.topic", "POST", "/settings/topics/1", ADMINS),
    Endpoint("settings.hours", "GET", "/settings/hours", ADMINS),
    Endpoint("settings.hours", "POST", "/settings/hours", ADMINS),
    Endpoint("settings.delete_hours", "POST", "/settings/hours/{hours}/delete", ADMINS),
    Endpoint("settings.holidays", "GET", "/settings/holidays", ADMINS),
    Endpoint("settings.holidays", "POST", "/settings/holidays", ADMINS),
    Endpoint("settings.delete_holiday", "POST", "/settings/holidays/{holiday}/delete", ADMINS),
    Endpoint("settings.users", "GET", "/settings/users", ADMINS),
    Endpoint("settings.users", "POST", "/settings/users", ADMINS),
    Endpoint("settings.user", "GET", "/settings/users/{user}", ADMINS),
    Endpoint("settings.user", "POST", "/settings/users/{user}", ADMINS),
    Endpoint("settings.unlock_user", "POST", "/settings/users/{user}/unlock", ADMINS),
    Endpoint("settings.new_token", "POST", "/settings/users/{user}/token", ADMINS),
    Endpoint("inbox.index", "GET", "/notifications/", EVERYONE),
    Endpoint("inbox.mark_all_read", "POST", "/notifications/read", EVERYONE),
    Endpoint("auth.logout", "POST", "/logout", EVERYONE),
]

API = [
    ("api.list_tickets", "/api/v1/tickets", False),
    ("api.get_ticket", "/api/v1/tickets/{number}", True),
    ("api.get_recording", "/api/v1/tickets/{number}/recording", True),
]

# Reachable without a session: the login page, the language switch, bundled assets, the API
# (bearer tokens instead) and the Twilio webhooks (signed instead).
PUBLIC = {"auth.login", "auth.language", "ui.static", "static", "api.openapi"}
OTHER_AUTH = ("api.", "ivr.", "ivr_outbound.")


@pytest.fixture
def place(
    db: Session, users: dict[str, User], make_ticket: Callable[..., Ticket]
) -> dict[str, Any]:
    """A tax ticket with a recording, and the ids the URLs need."""
    ticket = make_ticket("thue")
    values = {
        "number": ticket.number,
        "recording": ticket.recordings[0].id,
        "user": users["officer"].id,
        "hours": db.scalar(select(OfficeHours.id)),
        "holiday": db.scalar(select(Holiday.id)),
    }
    db.commit()
    return values


def expected(case: Endpoint, role: str) -> str:
    if role not in case.roles:
        return "forbidden"
    if case.scoped and role == "outsider":
        return "not found"
    return "allowed"


def outcome(status: int, location: str) -> str:
    if status == 403:
        return "forbidden"
    if status == 404:
        return "not found"
    if status in (302, 303) and "/login" in location:
        return "login"
    if status in (200, 206, 302, 303, 409, 422):
        return "allowed"
    return f"HTTP {status}"


def call(client: FlaskClient, case: Endpoint, values: dict[str, Any], token: str) -> Any:
    url = case.url.format(**values)
    if case.method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": token})


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    covered = {e.endpoint for e in ENDPOINTS} | {name for name, _, _ in API}
    routes = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = {
        name
        for name in routes - covered - PUBLIC
        if not name.startswith(OTHER_AUTH) or name.startswith("api.")
    }
    assert not missing, f"add these endpoints to the access matrix: {sorted(missing)}"


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(
    role: str,
    client: FlaskClient,
    users: dict[str, User],
    login: Callable[[FlaskClient, User], FlaskClient],
    place: dict[str, Any],
    csrf: Callable[..., str],
) -> None:
    login(client, users[role])
    token = csrf(client, "/tickets/")
    wrong = []
    for case in ENDPOINTS:
        if case.endpoint == "auth.logout":
            continue  # would end the session the loop runs in; tested below
        response = call(client, case, place, token)
        got = outcome(response.status_code, response.headers.get("Location", ""))
        if got != expected(case, role):
            wrong.append(f"{case.method} {case.endpoint}: {got}, expected {expected(case, role)}")
    assert not wrong, "\n".join(wrong)


def test_anonymous_is_sent_to_login(
    client: FlaskClient, place: dict[str, Any], csrf: Callable[..., str]
) -> None:
    token = csrf(client, "/login")
    wrong = []
    for case in ENDPOINTS:
        response = call(client, case, place, token)
        got = outcome(response.status_code, response.headers.get("Location", ""))
        if got != "login":
            wrong.append(f"{case.method} {case.endpoint}: {got}")
    assert not wrong, "\n".join(wrong)
    assert client.get("/login").status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_api_matrix(
    role: str, client: FlaskClient, users: dict[str, User], db: Session, place: dict[str, Any]
) -> None:
    token = issue_api_token(db, users[role])
    db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for name, url, scoped in API:
        response = client.get(url.format(**place), headers=headers)
        want = 404 if scoped and role == "outsider" else 200
        assert response.status_code == want, (name, response.get_data(as_text=True)[:200])
        if want == 404:
            assert response.get_json()["error"]["status"] == 404


def test_api_without_or_with_a_wrong_token(client: FlaskClient, place: dict[str, Any]) -> None:
    for _, url, _ in API:
        for headers in ({}, {"Authorization": "Bearer hl_wrong"}, {"Authorization": "Basic x"}):
            response = client.get(url.format(**place), headers=headers)
            assert response.status_code == 401
            assert response.is_json and response.get_json()["error"]["status"] == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_session_cookie_does_not_open_the_api(
    client: FlaskClient,
    users: dict[str, User],
    login: Callable[..., FlaskClient],
    place: dict[str, Any],
) -> None:
    login(client, users["admin"])
    assert client.get("/api/v1/tickets").status_code == 401


def test_another_departments_recording_is_404_like_a_missing_one(
    client: FlaskClient,
    users: dict[str, User],
    login: Callable[..., FlaskClient],
    place: dict[str, Any],
) -> None:
    login(client, users["outsider"])
    other = client.get(f"/tickets/{place['number']}/recordings/{place['recording']}/audio")
    missing = client.get(f"/tickets/999999/recordings/{place['recording']}/audio")
    assert other.status_code == missing.status_code == 404
    message = "Không tìm thấy, hoặc không thuộc đơn vị của bạn."
    assert message in other.get_data(as_text=True)
    assert message in missing.get_data(as_text=True)


def test_officer_list_shows_only_own_departments(
    client: FlaskClient,
    users: dict[str, User],
    login: Callable[..., FlaskClient],
    make_ticket: Callable[..., Ticket],
    db: Session,
) -> None:
    tax = make_ticket("thue")
    invest = make_ticket("dau-tu")
    db.commit()
    login(client, users["officer"])
    page = client.get("/tickets/").get_data(as_text=True)
    assert tax.number in page and invest.number not in page
    login(client, users["supervisor"])
    page = client.get("/tickets/").get_data(as_text=True)
    assert tax.number in page and invest.number in page


def test_logout_ends_the_session(
    client: FlaskClient, users: dict[str, User], login: Callable[..., FlaskClient], post: Any
) -> None:
    login(client, users["officer"])
    assert client.get("/tickets/").status_code == 200
    response = post("/logout")
    assert response.status_code == 303
    assert client.get("/tickets/").status_code == 302


def test_deactivated_user_loses_the_session(
    client: FlaskClient, users: dict[str, User], login: Callable[..., FlaskClient], db: Session
) -> None:
    login(client, users["officer"])
    users["officer"].active = False
    db.commit()
    assert client.get("/tickets/").status_code == 302


def test_security_headers_and_cookie_flags(
    app_config: dict[str, Any], users: dict[str, User], tmp_path: Any
) -> None:
    from hotline import create_app

    config = dict(app_config, TESTING=False, HOTLINE_SECURE_COOKIES=True)
    secure = create_app(config)
    secure.extensions["hotline"].engine.dispose()
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    assert secure.config["SESSION_COOKIE_HTTPONLY"] is True
    client = secure.test_client()
    response = client.get("/login", base_url="https://hotline.test")
    cookie = response.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
