"""`hotline users ...` and `hotline seed-demo`."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.runtime import runtime
from storage.db import transaction
from storage.models import (
    Call,
    CallState,
    Confidence,
    Recording,
    RecordingStatus,
    Role,
    Ticket,
    TicketKind,
    TicketStatus,
    Topic,
    Transcript,
    User,
)
from storage.seed import seed_reference
from tickets.numbering import ticket_number
from web.accounts import AccountError, create_user, issue_api_token

DEMO_FILE = "demo-credentials.txt"


@click.group("users")
def users_group() -> None:
    """Manage the people who work the tickets."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--department", "departments", multiple=True, help="Department code; repeatable.")
@click.option("--phone", default=None, help="The user's own phone, for click-to-call.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def users_create(
    email: str,
    name: str,
    role: str,
    departments: tuple[str, ...],
    phone: str | None,
    password: str,
) -> None:
    """Create a user."""
    try:
        with transaction(runtime(current_app).sessions) as db:
            user = create_user(
                db,
                email=email,
                name=name,
                role=Role(role),
                password=password,
                department_codes=departments,
                phone=phone,
            )
            click.echo(f"Created {user.email} ({user.role.value}).")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc


@users_group.command("token")
@click.argument("email")
@with_appcontext
def users_token(email: str) -> None:
    """Print a new API token for EMAIL (the old one stops working)."""
    with transaction(runtime(current_app).sessions) as db:
        user = db.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"no user with e-mail {email}")
        click.echo(issue_api_token(db, user))


DEMO_USERS = (
    ("admin@hotline.local", "Quản trị hệ thống", Role.ADMIN, ()),
    ("giamsat@hotline.local", "Nguyễn Thị Giám Sát", Role.SUPERVISOR, ()),
    ("thue@hotline.local", "Trần Văn Thuế", Role.OFFICER, ("thue",)),
    ("goilai@hotline.local", "Lê Thị Gọi Lại", Role.CALLBACK_STAFF, ("thue", "hanh-chinh-cong")),
)

DEMO_TICKETS = (
    (
        "+84912345678",
        "thue",
        "Công ty TNHH Minh Phát ở Từ Sơn muốn hỏi về hoàn thuế giá trị "
        "gia tăng cho hàng xuất khẩu, số điện thoại gọi lại không chín một hai ba bốn năm sáu bảy "
        "tám.",
    ),
    (
        "+84987654321",
        "dau-tu",
        "Chúng tôi muốn hỏi thủ tục điều chỉnh giấy chứng nhận đăng ký "
        "đầu tư cho dự án ở khu công nghiệp Quế Võ.",
    ),
    ("+84243123456", "khac", ""),
)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load reference data and, once, demo users and tickets; print how to log in."""
    rt = runtime(current_app)
    credentials = Path(current_app.instance_path) / DEMO_FILE
    with transaction(rt.sessions) as db:
        seed_reference(db)
        if db.scalar(select(User.id).limit(1)) is None:
            password = secrets.token_urlsafe(9)
            for email, name, role, depts in DEMO_USERS:
                create_user(
                    db,
                    email=email,
                    name=name,
                    role=role,
                    password=password,
                    department_codes=depts,
                )
            _seed_demo_tickets(db, now=rt.clock())
            lines = [f"{email}  ({role.value})" for email, _, role, _ in DEMO_USERS]
            credentials.write_text(
                "Demo accounts (all share one password):\n  "
                + "\n  ".join(lines)
                + f"\nPassword: {password}\n",
                encoding="utf-8",
            )
            credentials.chmod(0o600)
    if credentials.exists():
        click.echo(credentials.read_text(encoding="utf-8").rstrip())
    else:
        click.echo("Users exist already; demo accounts were not created.")


def _seed_demo_tickets(db: Session, *, now: datetime) -> None:
    topics = {t.code: t for t in db.scalars(select(Topic))}
    for index, (caller, topic_code, text) in enumerate(DEMO_TICKETS):
        topic = topics[topic_code]
        called = now - timedelta(hours=3 * (len(DEMO_TICKETS) - index))
        call = Call(
            call_sid=f"CAdemo{index:026d}",
            from_number=caller,
            state=CallState.ENDED,
            topic=topic,
            started_at=called,
            ended_at=called + timedelta(minutes=1),
        )
        ticket = Ticket(
            call=call,
            kind=TicketKind.MESSAGE if text else TicketKind.MISSED_CALL,
            status=TicketStatus.OPEN,
            caller=caller,
            topic=topic,
            department_id=topic.department_id,
            routing_reason=f"keypad {topic.digit}",
            called_at=called,
            callback_due_at=called + timedelta(hours=topic.sla_hours),
        )
        db.add_all([call, ticket])
        db.flush()
        ticket.number = ticket_number(ticket.id)
        if text:
            recording = Recording(
                recording_sid=f"REdemo{index:026d}",
                call=call,
                ticket=ticket,
                source_url="",
                status=RecordingStatus.TRANSCRIBED,
            )
            recording.transcript = Transcript(
                text=text,
                segments=[
                    {
                        "start": 0.0,
                        "end": 8.0,
                        "text": text,
                        "avg_logprob": -0.3,
                        "no_speech_prob": 0.01,
                        "low": False,
                    }
                ],
                engine="demo",
                model="demo (typed, no audio)",
                confidence=Confidence.HIGH,
            )
            db.add(recording)
    db.flush()
