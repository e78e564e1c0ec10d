"""`hotline users create` and `hotline users token`: the accounts the desk and the API use."""

from __future__ import annotations

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Role, User


def test_create_user_then_token_opens_the_api(
    runner: FlaskCliRunner, client: FlaskClient, db: Session
) -> None:
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Thu.Ha@hotline.test",
            "--name",
            "Nguyễn Thu Hà",
            "--role",
            "officer",
            "--department",
            "thue",
            "--password",
            "mat-khau-rat-dai",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.scalar(select(User).where(User.email == "thu.ha@hotline.test"))
    assert user is not None and user.role is Role.OFFICER and user.name == "Nguyễn Thu Hà"
    assert [d.code for d in user.departments] == ["thue"]
    db.commit()

    token = runner.invoke(args=["users", "token", "thu.ha@hotline.test"])
    assert token.exit_code == 0, token.output
    value = token.output.strip()
    assert value.startswith("hl_")
    response = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {value}"})
    assert response.status_code == 200


def test_create_user_refuses_bad_input(runner: FlaskCliRunner) -> None:
    short = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "a@hotline.test",
            "--name",
            "A",
            "--role",
            "officer",
            "--department",
            "thue",
            "--password",
            "x",
        ]
    )
    assert short.exit_code != 0 and "at least 8 characters" in short.output
    nodept = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "b@hotline.test",
            "--name",
            "B",
            "--role",
            "callback_staff",
            "--password",
            "mat-khau-dai",
        ]
    )
    assert nodept.exit_code != 0 and "department" in nodept.output
    unknown = runner.invoke(args=["users", "token", "nobody@hotline.test"])
    assert unknown.exit_code != 0
