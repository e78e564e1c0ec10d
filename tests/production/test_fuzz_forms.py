"""Hostile text in the desk's forms: login, ticket search and filters, notes, transcript
corrections, resolutions and the admin's settings.

Whatever is typed (markup, SQL wildcards, NUL bytes, very long strings, Vietnamese diacritics),
no page answers 5xx or shows a traceback, markup comes back escaped, and a search for `%` or
`_` finds only what holds that character (the wildcards are escaped).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from storage.models import Role, Ticket, User
from tests.web import conftest as web_fixtures
from tests.web.conftest import PASSWORD, csrf_token

MARK = '<script>alert("fuzz")</script>'
ESCAPED_MARK = "&lt;script&gt;"

FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Text as people (and attackers) type it.
VIETNAMESE = "ăâđêôơưáàảãạấầẩẫậếềểễệốồổỗộớờởỡợứừửữựíìỉĩịýỳỷỹỵĐƯƠ Thuế giá trị gia tăng"
HOSTILE = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=VIETNAMESE + "%_\\'\"<>&;\x00", max_size=60),
    st.sampled_from(
        [
            "%",
            "_",
            "%%",
            "\\%",
            "' OR 1=1 --",
            "\x00",
            "a\x00b",
            "x" * 6000,
            "ế" * 25000,
            "<b>đậm</b>",
            "{{ 7*7 }}",
            "\u202e\ufeff",
        ]
    ),
)
# The same, always carrying the markup payload somewhere in it.
WITH_MARK = st.builds(lambda a, b: a + MARK + b, HOSTILE, st.text(max_size=20))
FIELD = st.one_of(HOSTILE, WITH_MARK)


# The desk's fixtures (users, tickets with audio), shared with tests/web.
make_ticket = web_fixtures.make_ticket
make_user = web_fixtures.make_user
password_hash = web_fixtures.password_hash
wav_bytes = web_fixtures.wav_bytes


def _body(response: Any) -> str:
    return str(response.get_data(as_text=True))


def assert_sane(response: Any) -> str:
    """No server error, no traceback, and the markup payload never unescaped."""
    body = _body(response)
    assert response.status_code < 500, body[:500]
    assert "Traceback" not in body and 'File "' not in body, body[:500]
    assert MARK not in body, "unescaped markup in the page"
    return body


def sign_in(client: FlaskClient, email: str) -> FlaskClient:
    """Sign in through the real login form, with its CSRF token."""
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 303, _body(response)[:500]
    return client


def post_form(client: FlaskClient, url: str, data: dict[str, Any], page: str) -> Any:
    form = {"csrf_token": csrf_token(client, page), **data}
    return client.post(url, data=form)


@pytest.fixture
def desk(
    app: Flask, db: Session, make_user: Callable[..., User], make_ticket: Callable[..., Ticket]
) -> dict[str, Any]:
    admin = make_user(Role.ADMIN, name="Quản Trị")
    supervisor = make_user(Role.SUPERVISOR, name="Giám Sát")
    officer = make_user(Role.OFFICER, ("thue",), name="Trần Văn Thuế")
    plain = make_ticket("thue", business_name="Công ty TNHH Minh Phát")
    percent = make_ticket("thue", business_name="Giảm 100% phí", caller="+84912000001")
    underscore = make_ticket("dau-tu", business_name="ma_so_thue", caller="+84912000002")
    transcript_id = plain.recordings[0].transcript.id
    return {
        "admin": admin.email,
        "supervisor": supervisor.email,
        "officer": officer.email,
        "plain": plain.number,
        "percent": percent.number,
        "underscore": underscore.number,
        "transcript_id": transcript_id,
    }


def test_login_form_survives_hostile_credentials(app: Flask, desk: dict[str, Any]) -> None:
    client = app.test_client()

    @FUZZ
    @given(email=FIELD, password=FIELD)
    def fuzz(email: str, password: str) -> None:
        token = csrf_token(client, "/login")
        response = client.post(
            "/login", data={"csrf_token": token, "email": email, "password": password}
        )
        assert_sane(response)
        assert response.status_code in (401, 422), response.status_code

    fuzz()


def test_search_and_filters_survive_hostile_query_strings(app: Flask, desk: dict[str, Any]) -> None:
    client = sign_in(app.test_client(), desk["supervisor"])
    names = ["q", "status", "department", "topic", "area", "overdue", "from", "to", "page"]

    @FUZZ
    @given(params=st.dictionaries(st.sampled_from(names), FIELD, max_size=4))
    def fuzz(params: dict[str, str]) -> None:
        assert_sane(client.get("/tickets/", query_string=params))
        assert_sane(client.get("/reports/", query_string=params))

    fuzz()


@pytest.mark.parametrize(
    "query",
    [
        {"page": "461168601842738792"},
        {"page": "\u00b2"},
        {"department": "\u00b2"},
        {"area": "99999999999999999999999"},
    ],
    ids=["page-overflow", "page-superscript", "department-superscript", "area-overflow"],
)
def test_numeric_filters_out_of_range_are_refused_not_crashing(
    app: Flask, desk: dict[str, Any], query: dict[str, str]
) -> None:
    client = sign_in(app.test_client(), desk["supervisor"])
    response = client.get("/tickets/", query_string=query)
    assert_sane(response)
    assert "Traceback" not in _body(response)


def _numbers_listed(body: str, desk: dict[str, Any]) -> set[str]:
    return {n for n in (desk["plain"], desk["percent"], desk["underscore"]) if n in body}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("%", {"percent"}), ("_", {"underscore"}), ("%%", set()), ("__", set())],
)
def test_search_wildcards_are_literal(
    app: Flask, desk: dict[str, Any], query: str, expected: set[str]
) -> None:
    client = sign_in(app.test_client(), desk["supervisor"])
    body = assert_sane(client.get("/tickets/", query_string={"q": query}))
    assert _numbers_listed(body, desk) == {desk[name] for name in expected}, query


def test_ticket_actions_store_hostile_text_escaped(app: Flask, desk: dict[str, Any]) -> None:
    client = sign_in(app.test_client(), desk["officer"])
    number = desk["plain"]
    page = f"/tickets/{number}"

    @FUZZ
    @given(
        action=st.sampled_from(["notes", "transcript", "resolve"]),
        text=FIELD,
    )
    def fuzz(action: str, text: str) -> None:
        data = {
            "notes": {"body": text},
            "transcript": {"transcript_id": str(desk["transcript_id"]), "text": text},
            "resolve": {"note": text},
        }[action]
        response = post_form(client, f"{page}/{action}", data, page)
        assert_sane(response)
        shown = assert_sane(client.get(page))
        if response.status_code in (302, 303) and MARK in text and action != "resolve":
            assert ESCAPED_MARK in shown

    fuzz()


def test_admin_settings_forms_survive_hostile_text(app: Flask, desk: dict[str, Any]) -> None:
    client = sign_in(app.test_client(), desk["admin"])
    code = st.one_of(FIELD, st.from_regex(r"\A[a-z][a-z0-9-]{1,20}\Z"))

    @FUZZ
    @given(
        form=st.sampled_from(["departments", "holidays", "users"]),
        code=code,
        name=FIELD,
        other=FIELD,
    )
    def fuzz(form: str, code: str, name: str, other: str) -> None:
        data = {
            "departments": {"code": code, "name_vi": name, "name_en": other, "email": other},
            "holidays": {"day": code, "name_vi": name, "name_en": other},
            "users": {
                "email": code + "@hotline.test",
                "name": name,
                "role": "officer",
                "phone": other,
                "password": other,
            },
        }[form]
        url = f"/settings/{form}"
        assert_sane(post_form(client, url, data, url))
        assert_sane(client.get(url))

    fuzz()


def test_markup_in_a_ticket_field_is_escaped_on_the_list_and_the_page(
    app: Flask, desk: dict[str, Any], make_ticket: Callable[..., Ticket]
) -> None:
    ticket = make_ticket("thue", business_name=MARK + " 50%_", caller="+84912000003")
    client = sign_in(app.test_client(), desk["supervisor"])
    listing = assert_sane(client.get("/tickets/", query_string={"q": "50%_"}))
    assert ticket.number in listing and ESCAPED_MARK in listing
    assert re.search(ESCAPED_MARK, assert_sane(client.get(f"/tickets/{ticket.number}")))


@pytest.mark.parametrize(
    ("action", "field"), [("notes", "body"), ("transcript", "text"), ("resolve", "note")]
)
def test_markup_saved_through_a_ticket_form_is_shown_escaped(
    app: Flask, desk: dict[str, Any], action: str, field: str
) -> None:
    client = sign_in(app.test_client(), desk["officer"])
    page = f"/tickets/{desk['plain']}"
    data = {field: f"Xin chào {MARK} 100%_\x01", "transcript_id": str(desk["transcript_id"])}
    response = post_form(client, f"{page}/{action}", data, page)
    assert response.status_code == 303, _body(response)[:500]
    shown = assert_sane(client.get(page))
    assert ESCAPED_MARK in shown and "Xin chào" in shown
