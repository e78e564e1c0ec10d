"""Signing in: the real password check, throttling, safe redirects, the language switch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from storage.models import User, utcnow
from web.accounts import set_password
from web.auth import safe_next


def sign_in(post: Any, email: str, password: str, **kwargs: Any) -> Any:
    return post("/login", {"email": email, "password": password}, **kwargs)


def test_login_with_the_right_password(
    client: FlaskClient, users: dict[str, User], post: Any, user_password: str, db: Session
) -> None:
    response = sign_in(post, users["officer"].email.upper(), user_password)
    assert response.status_code == 303
    assert response.headers["Location"] == "/tickets/"
    assert client.get("/tickets/").status_code == 200
    db.refresh(users["officer"])
    assert users["officer"].last_login_at is not None


def test_callback_staff_land_on_the_queue(
    users: dict[str, User], post: Any, user_password: str
) -> None:
    response = sign_in(post, users["staff"].email, user_password)
    assert response.headers["Location"] == "/queue/"


def test_wrong_password_and_unknown_email_look_the_same(users: dict[str, User], post: Any) -> None:
    wrong = sign_in(post, users["officer"].email, "not the password")
    unknown = sign_in(post, "nobody@hotline.test", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Sai e-mail hoặc mật khẩu." in wrong.get_data(as_text=True)
    assert "Sai e-mail hoặc mật khẩu." in unknown.get_data(as_text=True)


def test_login_is_throttled_after_repeated_failures(
    client: FlaskClient,
    app: Any,
    users: dict[str, User],
    post: Any,
    user_password: str,
    db: Session,
) -> None:
    limit = app.config["HOTLINE_SETTINGS"].login_max_failures
    officer = users["officer"]
    for _ in range(limit):
        sign_in(post, officer.email, "guess")
    db.refresh(officer)
    assert officer.locked_until is not None and officer.locked_until > utcnow()
    db.commit()
    # Even the right password is refused while the lock lasts.
    response = sign_in(post, officer.email, user_password)
    assert response.status_code == 401
    assert "tạm khoá" in response.get_data(as_text=True)
    assert client.get("/tickets/").status_code == 302
    # When the lock has passed, the right password works again.
    officer.locked_until = utcnow() - timedelta(seconds=1)
    db.commit()
    assert sign_in(post, officer.email, user_password).status_code == 303


def test_empty_form_is_a_clear_error(post: Any) -> None:
    response = sign_in(post, "", "")
    assert response.status_code == 422
    assert "Vui lòng nhập mục này." in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(
    client: FlaskClient, users: dict[str, User], user_password: str
) -> None:
    response = client.post(
        "/login", data={"email": users["officer"].email, "password": user_password}
    )
    assert response.status_code == 400
    assert client.get("/tickets/").status_code == 302


def test_next_is_followed_only_on_this_site(
    users: dict[str, User], post: Any, user_password: str, client: FlaskClient
) -> None:
    page = client.get("/tickets/?status=open")
    assert page.status_code == 302 and "next=" in page.headers["Location"]
    response = sign_in(
        post, users["officer"].email, user_password, query_string={"next": "/tickets/?status=open"}
    )
    assert response.headers["Location"] == "/tickets/?status=open"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_safe_next_refuses_other_sites(target: str) -> None:
    assert safe_next(target, "/home") == "/home"


def test_password_change_ends_other_sessions(
    client: FlaskClient, users: dict[str, User], login: Callable[..., FlaskClient], db: Session
) -> None:
    login(client, users["officer"])
    assert client.get("/tickets/").status_code == 200
    set_password(db, users["officer"], "mot-mat-khau-moi")
    db.commit()
    assert client.get("/tickets/").status_code == 302


def test_language_switch(
    client: FlaskClient, users: dict[str, User], login: Callable[..., FlaskClient], post: Any
) -> None:
    login(client, users["officer"])
    assert "Hàng đợi gọi lại" in client.get("/tickets/").get_data(as_text=True)
    response = post("/language", {"lang": "en", "next": "/tickets/"})
    assert response.status_code == 303 and response.headers["Location"] == "/tickets/"
    page = client.get("/tickets/").get_data(as_text=True)
    assert "Callback queue" in page and '<html lang="en">' in page
    post("/language", {"lang": "xx", "next": "https://evil.example/"})
    assert '<html lang="en">' in client.get("/tickets/").get_data(as_text=True)
    post("/language", {"lang": "vi"})
    assert '<html lang="vi">' in client.get("/tickets/").get_data(as_text=True)
