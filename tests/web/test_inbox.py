"""In-app notifications: listed with links to the ticket, counted in the menu, marked read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Notification, Ticket, User


def test_notifications_listed_counted_and_marked_read(
    client: FlaskClient,
    users: dict[str, User],
    login: Callable[..., FlaskClient],
    make_ticket: Callable[..., Ticket],
    db: Session,
    post: Any,
) -> None:
    ticket = make_ticket()
    officer = users["officer"]
    db.add_all(
        [
            Notification(
                ticket_id=ticket.id,
                user_id=officer.id,
                kind="due_soon",
                channel="inapp",
                subject=f"Phiếu {ticket.number} sắp đến hạn gọi lại",
                body="Còn 30 phút.",
            ),
            Notification(
                ticket_id=ticket.id,
                user_id=users["staff"].id,
                kind="due_soon",
                channel="inapp",
                subject="Không phải của cán bộ này",
            ),
            Notification(
                ticket_id=ticket.id,
                user_id=officer.id,
                kind="due_soon",
                channel="email",
                subject="Thư điện tử không hiện ở đây",
            ),
        ]
    )
    db.commit()
    login(client, officer)
    page = client.get("/tickets/").get_data(as_text=True)
    assert 'aria-label="1 chưa đọc"' in page
    inbox = client.get("/notifications/").get_data(as_text=True)
    assert f"Phiếu {ticket.number} sắp đến hạn gọi lại" in inbox
    assert f'href="/tickets/{ticket.number}"' in inbox
    assert "Không phải của cán bộ này" not in inbox and "Thư điện tử" not in inbox
    assert post("/notifications/read").status_code == 303
    assert "chưa đọc" not in client.get("/tickets/").get_data(as_text=True)
    unread = db.scalars(select(Notification).where(Notification.read_at.is_(None))).all()
    assert len(unread) == 2
    db.commit()
