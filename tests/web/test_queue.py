"""The callback queue: order, overdue marking, claim and release, outcomes, click-to-call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.runtime import Runtime
from storage.models import AttemptOutcome, CallbackAttempt, Ticket, TicketStatus, User, utcnow


@pytest.fixture
def staff(
    client: FlaskClient, users: dict[str, User], login: Callable[..., FlaskClient]
) -> FlaskClient:
    return login(client, users["staff"])


def page(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_queue_is_due_ordered_with_overdue_marked(
    staff: FlaskClient, make_ticket: Callable[..., Ticket]
) -> None:
    now = utcnow()
    later = make_ticket(called_at=now - timedelta(minutes=10), due_in=timedelta(hours=4))
    overdue = make_ticket(called_at=now - timedelta(hours=8), due_in=timedelta(hours=4))
    soon = make_ticket(called_at=now - timedelta(hours=3), due_in=timedelta(hours=4))
    other = make_ticket("dau-tu")
    html = page(staff.get("/queue/"))
    positions = [html.index(t.number) for t in (overdue, soon, later)]
    assert positions == sorted(positions)
    assert other.number not in html
    first_item = html[html.index('<li class="queue-item') : html.index(overdue.number)]
    assert "is-overdue" in first_item
    assert "Quá hạn" in html


def test_claim_and_release(
    staff: FlaskClient,
    make_ticket: Callable[..., Ticket],
    post: Any,
    db: Session,
    users: dict[str, User],
) -> None:
    ticket = make_ticket()
    response = post(f"/queue/{ticket.number}/claim", {"next": "/queue/"})
    assert response.status_code == 303 and response.headers["Location"] == "/queue/"
    db.expire_all()
    claimed = db.get(Ticket, ticket.id)
    assert claimed is not None and claimed.owner_id == users["staff"].id
    db.commit()
    assert "Của tôi" in page(staff.get("/queue/"))
    # The next parameter never leaves the site.
    response = post(f"/queue/{ticket.number}/release", {"next": "https://evil.example/"})
    assert response.headers["Location"] == f"/queue/{ticket.number}"
    db.expire_all()
    released = db.get(Ticket, ticket.id)
    assert released is not None and released.owner_id is None
    db.commit()


def test_claim_of_a_ticket_someone_else_has_is_refused(
    staff: FlaskClient,
    make_ticket: Callable[..., Ticket],
    post: Any,
    db: Session,
    make_user: Callable[..., User],
) -> None:
    from storage.models import Role

    colleague = make_user(Role.CALLBACK_STAFF, ("thue",), name="Đồng Nghiệp")
    ticket = make_ticket()
    ticket.owner_id = colleague.id
    db.commit()
    response = post(f"/queue/{ticket.number}/claim")
    assert response.status_code == 409
    assert "Phiếu đang do Đồng Nghiệp phụ trách." in page(response)


def test_outcome_then_next_item_is_offered(
    staff: FlaskClient,
    make_ticket: Callable[..., Ticket],
    post: Any,
    db: Session,
    users: dict[str, User],
) -> None:
    now = utcnow()
    first = make_ticket(called_at=now - timedelta(hours=6))
    second = make_ticket(called_at=now - timedelta(hours=1))
    response = post(f"/queue/{first.number}/attempt", {"outcome": "no_answer", "note": ""})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/queue/?done={first.number}"
    html = page(staff.get(response.headers["Location"]))
    assert "Đã lưu kết quả cuộc gọi lại phiếu" in html
    offer = html[
        html.index('class="card next-offer"') : html.index("</section>", html.index("next-offer"))
    ]
    assert second.number in offer and first.number not in offer
    attempt = db.scalar(select(CallbackAttempt).where(CallbackAttempt.ticket_id == first.id))
    assert attempt is not None
    assert attempt.outcome is AttemptOutcome.NO_ANSWER
    assert attempt.user_id == users["staff"].id
    db.commit()


def test_reached_and_resolved_needs_a_note(
    staff: FlaskClient, make_ticket: Callable[..., Ticket], post: Any, db: Session
) -> None:
    ticket = make_ticket()
    response = post(f"/queue/{ticket.number}/attempt", {"outcome": "reached_resolved"})
    assert response.status_code == 422
    assert "Khi đã liên lạc được, hãy ghi lại nội dung đã trao đổi." in page(response)
    bad = post(f"/queue/{ticket.number}/attempt", {"outcome": "in_progress"})
    assert bad.status_code == 422 and "Lựa chọn không hợp lệ." in page(bad)
    assert db.scalar(select(CallbackAttempt.id)) is None
    db.commit()
    done = post(
        f"/queue/{ticket.number}/attempt",
        {"outcome": "reached_resolved", "note": "Đã trả lời về thủ tục hoàn thuế."},
    )
    assert done.status_code == 303
    db.expire_all()
    resolved = db.get(Ticket, ticket.id)
    assert resolved is not None and resolved.status is TicketStatus.RESOLVED
    db.commit()
    assert "Không còn việc nào đang chờ bạn" in page(staff.get(done.headers["Location"]))


def test_without_twilio_staff_dial_by_hand(
    staff: FlaskClient, make_ticket: Callable[..., Ticket], post: Any
) -> None:
    ticket = make_ticket()
    html = page(staff.get(f"/queue/{ticket.number}"))
    assert 'href="tel:+84912345678"' in html
    assert "Gọi qua tổng đài" not in html
    response = post(f"/queue/{ticket.number}/call")
    assert response.status_code == 409
    assert "Chưa cấu hình gọi qua tổng đài" in page(response)


class FakeDialer:
    def __init__(self, *, fail: bool = False) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail = fail

    def call_staff(self, *, staff_phone: str, attempt_id: int) -> str:
        if self.fail:
            raise ConnectionError("Twilio is down")
        self.calls.append((staff_phone, attempt_id))
        return f"CA{attempt_id:032d}"


@pytest.fixture
def twilio_config(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["TWILIO_ACCOUNT_SID"] = "AC" + "1" * 32
    return app_config


def test_click_to_call_rings_the_staff_phone(
    twilio_config: dict[str, Any],
    rt: Runtime,
    staff: FlaskClient,
    make_ticket: Callable[..., Ticket],
    post: Any,
    db: Session,
) -> None:
    dialer = FakeDialer()
    rt.services["dialer"] = dialer
    ticket = make_ticket()
    assert "Gọi qua tổng đài" in page(staff.get(f"/queue/{ticket.number}"))
    response = post(f"/queue/{ticket.number}/call")
    assert response.status_code == 303
    assert dialer.calls and dialer.calls[0][0] == "+84911000111"
    html = page(staff.get(response.headers["Location"]))
    assert "Điện thoại của bạn sẽ đổ chuông" in html
    assert "Đã gọi qua tổng đài lúc" in html
    attempt = db.scalar(select(CallbackAttempt).where(CallbackAttempt.ticket_id == ticket.id))
    assert attempt is not None and attempt.outcome is AttemptOutcome.IN_PROGRESS
    db.commit()
    # The outcome form completes the same attempt instead of adding a second one.
    post(
        f"/queue/{ticket.number}/attempt",
        {"outcome": "reached_follow_up", "note": "Hẹn gửi hồ sơ bổ sung."},
    )
    db.expire_all()
    attempts = db.scalars(select(CallbackAttempt).where(CallbackAttempt.ticket_id == ticket.id))
    assert [a.outcome for a in attempts] == [AttemptOutcome.REACHED_FOLLOW_UP]
    db.commit()


def test_click_to_call_failure_changes_nothing(
    twilio_config: dict[str, Any],
    rt: Runtime,
    staff: FlaskClient,
    make_ticket: Callable[..., Ticket],
    post: Any,
    db: Session,
) -> None:
    rt.services["dialer"] = FakeDialer(fail=True)
    ticket = make_ticket()
    response = post(f"/queue/{ticket.number}/call")
    assert response.status_code == 409
    assert "Tổng đài không thực hiện được cuộc gọi" in page(response)
    assert db.scalar(select(CallbackAttempt.id)) is None
    db.commit()
