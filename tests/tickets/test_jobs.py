"""The ticket jobs on the task queue, the sweep's repairs, and `hotline tickets show --json`."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from hotline.runtime import Runtime
from hotline.tasks import drain
from storage.models import AttemptOutcome, Role, Ticket, TicketStatus, User
from tests.tickets.helpers import vn
from tickets import jobs
from tickets.calendar import OfficeCalendar
from tickets.policy import TicketPolicy
from tickets.services import claim, log_attempt, route_ticket

CALL = (
    "Công ty em ở Yên Phong muốn hỏi về hoàn thuế giá trị gia tăng, số điện thoại không chín "
    "tám tám một hai ba bốn năm sáu"
)


def test_route_ticket_job_runs_from_the_queue(
    rt: Runtime, db: Session, make_ticket: Callable[..., Ticket]
) -> None:
    ticket = make_ticket(digit_topic="khac", text=CALL, status=TicketStatus.IN_CALL)
    db.commit()
    jobs_ = rt.services["jobs"]
    assert "route_ticket" in jobs_.names
    assert jobs_.enqueue("route_ticket", ticket.id)
    assert jobs_.enqueue("route_ticket", 999_999)  # a ticket that is gone: nothing happens
    assert drain(rt.queues["default"]) == 2
    db.expire_all()
    routed = db.get(Ticket, ticket.id)
    assert routed is not None and routed.status is TicketStatus.OPEN
    assert routed.department is not None and routed.department.code == "thue"
    assert routed.callback_due_at is not None
    periodic = {t.name for t in rt.queues["default"]._registry.periodic_tasks}
    assert {"send_reminders", "sweep_tickets"} <= periodic


def test_sweep_routes_tickets_the_queue_lost(
    rt: Runtime, db: Session, make_ticket: Callable[..., Ticket], policy: TicketPolicy
) -> None:
    stuck = make_ticket(status=TicketStatus.IN_CALL, called_at=vn(2026, 12, 1, 9, 0))
    busy = make_ticket(status=TicketStatus.IN_CALL, called_at=vn(2026, 12, 1, 9, 50))
    unrouted = make_ticket(digit_topic=None, called_at=vn(2026, 12, 1, 9, 0))
    db.commit()
    report = jobs.sweep(rt.sessions, now=vn(2026, 12, 1, 10, 0), policy=policy)
    assert sorted(report.routed) == sorted([stuck.number, unrouted.number])
    again = jobs.sweep(rt.sessions, now=vn(2026, 12, 1, 10, 1), policy=policy)
    assert again.routed == []
    db.expire_all()
    assert db.get(Ticket, busy.id).status is TicketStatus.IN_CALL  # type: ignore[union-attr]
    fixed = db.get(Ticket, unrouted.id)
    assert fixed is not None and fixed.department is not None
    assert fixed.department.code == "hanh-chinh-cong"


def test_show_json_has_routing_due_time_owner_and_attempts(
    rt: Runtime,
    db: Session,
    runner: FlaskCliRunner,
    make_ticket: Callable[..., Ticket],
    make_user: Callable[..., User],
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    staff = make_user(Role.CALLBACK_STAFF, ("thue",), email="goilai@hotline.test")
    earlier = make_ticket(caller="0988123456", called_at=vn(2026, 11, 20, 9, 0))
    text = (
        "Công ty em ở Yên Phong hỏi về thông quan hàng nhập khẩu, tờ khai hải quan bị lỗi, số "
        "điện thoại không chín tám tám một hai ba bốn năm sáu"
    )
    ticket = make_ticket(digit_topic="thue", text=text, called_at=vn(2026, 12, 1, 9, 0))
    route_ticket(
        db, ticket_id=ticket.id, now=vn(2026, 12, 1, 9, 1), calendar=calendar, options=policy
    )
    claim(db, ticket=ticket, user=staff, now=vn(2026, 12, 1, 9, 30))
    log_attempt(
        db,
        ticket=ticket,
        user=staff,
        outcome=AttemptOutcome.NO_ANSWER,
        note="Không nghe máy",
        now=vn(2026, 12, 1, 9, 40),
        calendar=calendar,
        policy=policy,
    )
    db.commit()
    result = runner.invoke(args=["tickets", "show", ticket.number or "", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["department"] == "thue"
    assert data["area"] == "Yên Phong"
    assert data["callback_due_at"] == "2026-12-01T15:00:00+07:00"
    assert data["next_attempt_at"] == "2026-12-01T10:40:00+07:00"
    assert data["owner"] == "goilai@hotline.test"
    assert data["routing_reason"] == "bấm phím 1: Thuế"
    assert data["suggestion"]["topic"] == "hai-quan"
    assert "thông quan" in data["suggestion"]["reason"]
    assert data["callback_number"] == "+84988123456"
    assert data["attempts"] == [
        {
            "at": "2026-12-01T09:40:00+07:00",
            "outcome": "no_answer",
            "note": "Không nghe máy",
            "by": "goilai@hotline.test",
            "number_dialled": "+84988123456",
            "answered": None,
            "duration_s": None,
            "twilio_status": None,
        }
    ]
    assert [t["number"] for t in data["earlier_tickets"]] == [earlier.number]
    plain = runner.invoke(args=["tickets", "show", ticket.number or ""])
    assert "suggestion: Hải quan" in plain.output and "attempt:" in plain.output
