"""The reminder poll: each reminder once per ticket, recipient, channel and due time.

The clock is frozen and moved forward by hand; the poll runs exactly as the worker runs it
(`tickets.jobs.send_reminders`), and as its CLI twin. Concurrency is tested with two threads
and with two processes on the same SQLite file, delivering through a real SMTP server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.runtime import Runtime
from storage.models import (
    AttemptOutcome,
    AuditEvent,
    Notification,
    Role,
    Ticket,
    User,
)
from tests.conftest import TEST_AUTH_TOKEN
from tests.tickets.conftest import SmtpSink
from tests.tickets.helpers import vn
from tickets import jobs
from tickets.calendar import OfficeCalendar
from tickets.fakes import RecordingNotifier
from tickets.notify import EmailNotifier, InAppNotifier, Notifier, insert_once
from tickets.policy import EMAIL, INAPP, SMS, TicketPolicy
from tickets.services import claim, log_attempt, route_ticket


@dataclass
class Desk:
    """A tax desk: two callback staff (one with a phone), a supervisor, and outsiders."""

    lan: User
    minh: User
    boss: User
    customs: User
    ticket: Ticket


@pytest.fixture
def desk(
    db: Session,
    make_user: Callable[..., User],
    make_ticket: Callable[..., Ticket],
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> Desk:
    lan = make_user(Role.CALLBACK_STAFF, ("thue",), name="Lê Thị Lan", phone="0912000001")
    minh = make_user(Role.CALLBACK_STAFF, ("thue",), name="Trần Minh")
    boss = make_user(Role.SUPERVISOR, name="Nguyễn Giám Sát", phone="+84912000009")
    customs = make_user(Role.OFFICER, ("hai-quan",))
    make_user(Role.ADMIN)
    ticket = make_ticket(digit_topic="thue", called_at=vn(2026, 12, 1, 9, 0))
    route_ticket(
        db, ticket_id=ticket.id, now=vn(2026, 12, 1, 9, 0), calendar=calendar, options=policy
    )
    db.commit()
    return Desk(lan, minh, boss, customs, ticket)


def _notifiers() -> dict[str, Notifier]:
    return {INAPP: InAppNotifier(), EMAIL: RecordingNotifier(EMAIL), SMS: RecordingNotifier(SMS)}


def _rows(rt: Runtime) -> list[tuple[str, int, str, str]]:
    # A session of its own, closed at once: on SQLite every transaction takes the write lock
    # (BEGIN IMMEDIATE), so a test's open read would block the poll it is about to run.
    with rt.sessions() as db:
        rows = db.scalars(select(Notification).order_by(Notification.id))
        return [(n.kind, n.user_id, n.channel, n.due_key) for n in rows]


def test_moving_the_clock_sends_each_reminder_exactly_once(
    rt: Runtime, db: Session, desk: Desk, policy: TicketPolicy
) -> None:
    # Due at 15:00: four office hours from 09:00 across the lunch break.
    assert desk.ticket.callback_due_at == vn(2026, 12, 1, 15, 0)
    notifiers = _notifiers()
    email, sms = notifiers[EMAIL], notifiers[SMS]
    assert isinstance(email, RecordingNotifier) and isinstance(sms, RecordingNotifier)

    def poll(hh: int, mm: int) -> tuple[dict[str, int], int]:
        report = jobs.send_reminders(
            rt.sessions, now=vn(2026, 12, 1, hh, mm), policy=policy, notifiers=notifiers
        )
        assert report.delivery.failed == 0
        return report.queued.added, report.delivery.sent

    assert poll(9, 1) == ({"new_ticket": 4}, 2)  # Lan and Minh, in-app + e-mail
    assert poll(9, 2) == ({}, 0)
    assert poll(14, 29) == ({}, 0)
    assert poll(14, 30) == ({"due_soon": 4}, 2)
    assert poll(14, 45) == ({}, 0)
    # Overdue: the pool and the supervisor, e-mail for all, SMS for those with a phone.
    assert poll(15, 0) == ({"overdue": 8}, 5)
    assert poll(16, 59) == ({}, 0)
    assert poll(17, 0) == ({"escalation": 3}, 2)  # 120 minutes later: the supervisor only
    assert poll(17, 1) == ({}, 0)
    assert poll(23, 0) == ({}, 0)

    rows = _rows(rt)
    assert len(rows) == len(set(rows)) == 19
    assert {user for _, user, _, _ in rows} == {desk.lan.id, desk.minh.id, desk.boss.id}
    assert len(email.sent) == 8 and len({(m.to, m.subject) for m in email.sent}) == 8
    assert [m.to for m in sms.sent] == ["+84912000001", "+84912000009", "+84912000009"]
    link = f"https://hotline.test/tickets/{desk.ticket.number}"
    assert all(n.link == link for n in db.scalars(select(Notification)))
    assert all(link in m.body for m in email.sent + sms.sent)
    overdue = next(m for m in email.sent if m.to == desk.boss.email and "quá hạn" in m.subject)
    assert overdue.subject == f"Phiếu {desk.ticket.number} đã quá hạn gọi lại"
    assert "15:00 01/12/2026" in overdue.body


def test_a_new_due_time_starts_a_new_round(
    rt: Runtime, db: Session, desk: Desk, calendar: OfficeCalendar, policy: TicketPolicy
) -> None:
    notifiers = _notifiers()
    jobs.send_reminders(rt.sessions, now=vn(2026, 12, 1, 15, 0), policy=policy, notifiers=notifiers)
    ticket = db.get(Ticket, desk.ticket.id)
    assert ticket is not None
    log_attempt(
        db,
        ticket=ticket,
        user=desk.lan,
        outcome=AttemptOutcome.NO_ANSWER,
        note="",
        now=vn(2026, 12, 1, 15, 10),
        calendar=calendar,
        policy=policy,
    )
    db.commit()
    assert ticket.next_attempt_at == vn(2026, 12, 1, 16, 10)
    report = jobs.send_reminders(
        rt.sessions, now=vn(2026, 12, 1, 15, 40), policy=policy, notifiers=notifiers
    )
    assert report.queued.added == {"due_soon": 4}
    keys = {key for kind, _, _, key in _rows(rt) if kind == "due_soon"}
    assert keys == {vn(2026, 12, 1, 16, 10).isoformat()}


def test_an_owned_ticket_reminds_its_owner_only_and_returns_to_the_pool(
    rt: Runtime, db: Session, desk: Desk, policy: TicketPolicy
) -> None:
    notifiers = _notifiers()
    ticket = db.get(Ticket, desk.ticket.id)
    assert ticket is not None
    claim(db, ticket=ticket, user=desk.minh, now=vn(2026, 12, 1, 9, 5))
    db.commit()
    jobs.send_reminders(
        rt.sessions, now=vn(2026, 12, 1, 14, 30), policy=policy, notifiers=notifiers
    )
    assert {(u, c) for k, u, c, _ in _rows(rt) if k == "due_soon"} == {
        (desk.minh.id, INAPP),
        (desk.minh.id, EMAIL),
    }
    assert not [r for r in _rows(rt) if r[0] == "new_ticket"]  # claimed before the poll

    assert (
        jobs.sweep(rt.sessions, now=vn(2026, 12, 1, 15, 29), policy=policy).returned_to_pool == []
    )
    report = jobs.sweep(rt.sessions, now=vn(2026, 12, 1, 15, 30), policy=policy)
    assert report.returned_to_pool == [desk.ticket.number]
    assert (
        jobs.sweep(rt.sessions, now=vn(2026, 12, 1, 15, 31), policy=policy).returned_to_pool == []
    )
    back = [r for r in _rows(rt) if r[0] == "returned_to_pool"]
    assert back == [("returned_to_pool", desk.minh.id, INAPP, vn(2026, 12, 1, 15, 0).isoformat())]
    db.expire_all()
    ticket = db.get(Ticket, desk.ticket.id)
    assert ticket is not None and ticket.owner is None
    event = db.scalars(
        select(AuditEvent).where(AuditEvent.ticket_id == ticket.id).order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None and event.action == "owner_changed" and event.user_id is None
    assert event.from_value == desk.minh.email and "30 phút" in event.reason


def test_two_polls_at_once_send_each_reminder_once(
    rt: Runtime, db: Session, desk: Desk, policy: TicketPolicy
) -> None:
    notifiers = _notifiers()
    email = notifiers[EMAIL]
    assert isinstance(email, RecordingNotifier)
    expected_rows = 0
    for hh, mm, added in ((9, 1, 4), (14, 30, 4), (15, 0, 8), (17, 0, 3)):
        start = threading.Barrier(2)
        reports: list[jobs.PollReport] = []
        errors: list[BaseException] = []

        def run(at: datetime, barrier: threading.Barrier, out: list[Any], err: list[Any]) -> None:
            try:
                barrier.wait()
                out.append(
                    jobs.send_reminders(rt.sessions, now=at, policy=policy, notifiers=notifiers)
                )
            except BaseException as exc:  # surface anything to the test thread
                err.append(exc)

        args = (vn(2026, 12, 1, hh, mm), start, reports, errors)
        threads = [threading.Thread(target=run, args=args) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        assert sorted(r.queued.total for r in reports) == [0, added]
        expected_rows += added
    assert len(_rows(rt)) == expected_rows == 19
    assert len(email.sent) == 8 and len({(m.to, m.subject) for m in email.sent}) == 8


def test_insert_once_is_a_no_op_for_a_key_already_there(
    rt: Runtime, db: Session, desk: Desk
) -> None:
    values = {
        "ticket_id": desk.ticket.id,
        "user_id": desk.lan.id,
        "kind": "overdue",
        "channel": INAPP,
        "due_key": "2026-12-01T08:00:00+00:00",
        "subject": "s",
        "body": "b",
        "link": "l",
        "created_at": vn(2026, 12, 1, 15, 0),
    }
    with rt.sessions() as first, first.begin():
        assert insert_once(first, values) is True
    # A second poll that computed its work before the first committed: no error, no row.
    with rt.sessions() as second, second.begin():
        assert insert_once(second, values) is False
        assert insert_once(second, values | {"channel": EMAIL}) is True
    assert db.scalar(select(func.count()).select_from(Notification)) == 2


def test_real_smtp_delivery_in_vietnamese(
    rt: Runtime, db: Session, desk: Desk, policy: TicketPolicy, smtp_server: SmtpSink
) -> None:
    notifiers: dict[str, Notifier] = {
        INAPP: InAppNotifier(),
        EMAIL: EmailNotifier(
            host=smtp_server.host, port=smtp_server.port, mail_from="hotline@bacninh.test"
        ),
    }
    report = jobs.send_reminders(
        rt.sessions, now=vn(2026, 12, 1, 15, 0), policy=policy, notifiers=notifiers
    )
    assert report.delivery.sent == 5 and report.delivery.failed == 0
    assert len(smtp_server.messages) == 5
    number = desk.ticket.number
    subjects = sorted(str(m["subject"]) for m in smtp_server.messages)
    assert f"Phiếu mới {number}: Thuế" in subjects
    assert f"Phiếu {number} đã quá hạn gọi lại" in subjects
    message = next(m for m in smtp_server.messages if "quá hạn" in str(m["subject"]))
    body = message.get_content()
    assert "Phụ trách: nhóm chung của đơn vị" in body
    assert f"Xem phiếu: https://hotline.test/tickets/{number}" in body
    assert message["From"] == "hotline@bacninh.test"
    # Nothing more to send on the next poll.
    again = jobs.send_reminders(
        rt.sessions, now=vn(2026, 12, 1, 15, 1), policy=policy, notifiers=notifiers
    )
    assert again.delivery.sent == 0 and len(smtp_server.messages) == 5


def test_a_failed_delivery_is_recorded_and_not_repeated(
    rt: Runtime, db: Session, desk: Desk, policy: TicketPolicy
) -> None:
    broken = RecordingNotifier(EMAIL)
    broken.fail_with = ConnectionRefusedError("SMTP server down")
    notifiers: dict[str, Notifier] = {INAPP: InAppNotifier(), EMAIL: broken}
    report = jobs.send_reminders(
        rt.sessions, now=vn(2026, 12, 1, 9, 1), policy=policy, notifiers=notifiers
    )
    assert (report.delivery.sent, report.delivery.failed) == (0, 2)
    db.expire_all()
    failed = db.scalars(select(Notification).where(Notification.channel == EMAIL)).all()
    assert all(n.sent_at is None and "SMTP server down" in (n.error or "") for n in failed)
    db.commit()  # end the read: on SQLite it holds the write lock the next poll needs
    broken.fail_with = None
    assert (
        jobs.send_reminders(
            rt.sessions, now=vn(2026, 12, 1, 9, 2), policy=policy, notifiers=notifiers
        ).delivery.sent
        == 0
    )


def test_the_caller_sms_after_resolving_goes_out_once(
    rt: Runtime, db: Session, desk: Desk, calendar: OfficeCalendar, policy: TicketPolicy
) -> None:
    notifiers = _notifiers()
    sms = notifiers[SMS]
    assert isinstance(sms, RecordingNotifier)
    ticket = db.get(Ticket, desk.ticket.id)
    assert ticket is not None
    log_attempt(
        db,
        ticket=ticket,
        user=desk.lan,
        outcome=AttemptOutcome.REACHED_RESOLVED,
        note="Đã hướng dẫn kê khai.",
        now=vn(2026, 12, 1, 10, 0),
        calendar=calendar,
        policy=policy,
    )
    db.commit()
    for minute in (1, 2):
        jobs.send_reminders(
            rt.sessions, now=vn(2026, 12, 1, 10, minute), policy=policy, notifiers=notifiers
        )
    assert [(m.to, m.body) for m in sms.sent] == [
        (
            "+84912345678",
            f"Đường dây nóng hỗ trợ doanh nghiệp: câu hỏi của Quý doanh nghiệp (phiếu số "
            f"{desk.ticket.number}) đã được trả lời. Xin cảm ơn Quý doanh nghiệp!",
        )
    ]


# --- the CLI twins ------------------------------------------------------------------------------


def test_cli_twins_after_moving_the_clock(runner: FlaskCliRunner, db: Session, desk: Desk) -> None:
    def run(*args: str) -> str:
        result = runner.invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.output

    # The test app has no SMTP and no Twilio: the in-app channel only.
    assert run("tickets", "send-reminders", "--now", "2026-12-01T09:01:00+07:00") == (
        "Queued: new_ticket 2\nSent: 0, failed: 0\n"
    )
    assert run("tickets", "send-reminders", "--now", "2026-12-01T09:02:00+07:00").startswith(
        "Queued: nothing"
    )
    assert run("tickets", "send-reminders", "--now", "2026-12-01T14:30:00+07:00").startswith(
        "Queued: due_soon 2"
    )
    assert run("tickets", "send-reminders", "--now", "2026-12-01T15:00:00+07:00").startswith(
        "Queued: overdue 3"
    )
    assert run("tickets", "send-reminders", "--now", "2026-12-01T17:00:00+07:00").startswith(
        "Queued: escalation 1"
    )
    assert run("tickets", "send-reminders", "--now", "2026-12-01T17:00:00+07:00").startswith(
        "Queued: nothing"
    )
    assert "Returned to the pool: none" in run(
        "tickets", "sweep", "--now", "2026-12-01T17:00:00+07:00"
    )
    queue = run("tickets", "queue", "--user", desk.lan.email, "--now", "2026-12-01T17:00:00+07:00")
    assert desk.ticket.number in queue and "QUÁ HẠN" in queue
    bad = runner.invoke(args=["tickets", "send-reminders", "--now", "2026-12-01T17:00:00"])
    assert bad.exit_code != 0 and "offset" in bad.output


def test_two_processes_at_once_deliver_each_mail_once(
    app_config: dict[str, Any], db: Session, desk: Desk, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": app_config["DATABASE_URL"],
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        "HOTLINE_QUEUE_PATH": str(tmp_path / "cli-queue.db"),
        "SECRET_KEY": "test",
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "HOTLINE_SMTP_HOST": smtp_server.host,
        "HOTLINE_SMTP_PORT": str(smtp_server.port),
        "HOTLINE_BASE_URL": "https://hotline.test",
    }
    for key in ("TWILIO_ACCOUNT_SID", "REDIS_URL"):
        env.pop(key, None)
    # 15:00, first poll: the new-ticket mail to Lan and Minh, the overdue mail to them and the
    # supervisor. Two processes start together; the SMTP server must see each mail once.
    command = [
        sys.executable, "-m", "hotline", "tickets", "send-reminders",
        "--now", "2026-12-01T15:00:00+07:00",
    ]  # fmt: skip
    procs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    sent = sorted(int(out.split("Sent: ")[1].split(",")[0]) for out, _ in outputs)
    assert sum(sent) == 5
    recipients = sorted(str(m["to"]) for m in smtp_server.messages)
    assert recipients == sorted([desk.lan.email, desk.minh.email] * 2 + [desk.boss.email])


def test_a_department_a_ticket_moves_to_hears_of_it(
    rt: Runtime, db: Session, desk: Desk, make_user: Callable[..., User], policy: TicketPolicy
) -> None:
    from storage.models import Department
    from tickets.services import reassign

    notifiers = _notifiers()
    jobs.send_reminders(rt.sessions, now=vn(2026, 12, 1, 9, 1), policy=policy, notifiers=notifiers)
    customs = db.scalar(select(Department).where(Department.code == "hai-quan"))
    assert customs is not None
    ticket = db.get(Ticket, desk.ticket.id)
    assert ticket is not None
    reassign(
        db,
        ticket=ticket,
        department_id=customs.id,
        by=desk.boss,
        reason="Hỏi về tờ khai",
        now=vn(2026, 12, 1, 9, 5),
    )
    db.commit()
    report = jobs.send_reminders(
        rt.sessions, now=vn(2026, 12, 1, 9, 6), policy=policy, notifiers=notifiers
    )
    assert report.queued.added == {"new_ticket": 2}
    news = [(u, c, k) for kind, u, c, k in _rows(rt) if kind == "new_ticket"]
    assert {u for u, _, _ in news} == {desk.lan.id, desk.minh.id, desk.customs.id}
    assert desk.ticket.topic is not None
    tax_id = desk.ticket.topic.department_id
    assert {k for _, _, k in news} == {f"department:{customs.id}", f"department:{tax_id}"}


def test_a_backlog_is_queued_in_short_transactions(
    rt: Runtime,
    db: Session,
    desk: Desk,
    make_ticket: Callable[..., Ticket],
    policy: TicketPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tickets.reminders import queue_reminders

    for hour in (8, 9):
        make_ticket(called_at=vn(2026, 11, 30, hour, 0), callback_due_at=vn(2026, 11, 30, 15, 0))
    db.commit()
    with rt.sessions() as session:
        first = queue_reminders(session, now=vn(2026, 12, 1, 15, 0), policy=policy, limit=1)
        assert first.more and first.added == {"new_ticket": 4}  # one ticket only
        session.rollback()
    monkeypatch.setattr(jobs, "REMINDER_BATCH", 1)
    report = jobs.send_reminders(
        rt.sessions, now=vn(2026, 12, 1, 15, 0), policy=policy, notifiers=_notifiers()
    )
    # Three tickets: each new to the pool, each overdue to the pool and the supervisor, and
    # the two of 30/11 escalated (120 minutes past due) to the supervisor.
    assert report.queued.added == {"new_ticket": 12, "overdue": 24, "escalation": 6}
