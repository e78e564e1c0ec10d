"""Notifications: the outbox rows, their Vietnamese texts, and the channels that deliver them.

Every notification is first a `Notification` row, inserted with "insert or skip" on the
unique key (ticket, kind, due time, recipient, channel): that key is what makes a reminder go
out at most once however often, and however concurrently, the poll runs. In-app rows are the
message itself (sent when inserted); e-mail and SMS rows are an outbox that `deliver_pending`
empties after the inserting transaction commits, so a rolled-back transaction never mails
anyone. Channels sit behind the `Notifier` protocol: real SMTP through `smtplib`, SMS through
the telephony service (Twilio), and fakes for tests.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Notification, Ticket, User
from tickets.phones import display_phone, normalize_phone
from tickets.policy import EMAIL, INAPP, SMS, SMS_CALLER, Kind, TicketPolicy

log = logging.getLogger(__name__)

SIGNATURE = "Đường dây nóng hỗ trợ doanh nghiệp"


class Notifier(Protocol):
    """Delivers one message on one channel; raises on failure."""

    channel: str

    def send(self, *, to: str, subject: str, body: str) -> None: ...


class SmsSender(Protocol):
    """The part of the telephony service that sends an SMS (structural: Twilio or a fake)."""

    def send_sms(self, *, to: str, body: str) -> Any: ...


class InAppNotifier:
    """The in-app list: the row is the message, so there is nothing to send."""

    channel = INAPP

    def send(self, *, to: str, subject: str, body: str) -> None:
        return None


@dataclass
class EmailNotifier:
    """E-mail through an SMTP server with `smtplib` (one connection per message)."""

    host: str
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    mail_from: str = "hotline@localhost"
    timeout_s: float = 15.0
    channel: str = EMAIL

    def send(self, *, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.mail_from.rpartition("@")[2] or None)
        # UTF-8 in quoted-printable (7-bit clean) and an RFC 2047 subject, so Vietnamese
        # diacritics survive every mail server, 8BITMIME or not.
        message.set_content(body, charset="utf-8", cte="quoted-printable")
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


@dataclass
class SmsNotifier:
    """SMS through the telephony service."""

    sender: SmsSender
    channel: str = SMS

    def send(self, *, to: str, subject: str, body: str) -> None:
        self.sender.send_sms(to=to, body=body)


# --- texts -----------------------------------------------------------------------------------


def _when(moment: datetime | None, policy: TicketPolicy) -> str:
    if moment is None:
        return "chưa xác định"
    return moment.astimezone(policy.tz).strftime("%H:%M %d/%m/%Y")


@dataclass(frozen=True)
class Text:
    subject: str
    body: str
    sms: str


def compose(
    kind: str,
    ticket: Ticket,
    *,
    policy: TicketPolicy,
    due: datetime | None = None,
    attempts: int = 0,
) -> Text:
    """Return the Vietnamese subject, e-mail body and SMS text of a notification."""
    number = ticket.number or "?"
    topic = ticket.topic.name_vi if ticket.topic else "chưa rõ chủ đề"
    department = ticket.department.name_vi if ticket.department else "chưa phân công"
    caller = display_phone(ticket.callback_number or ticket.caller) or "ẩn số"
    owner = ticket.owner.name if ticket.owner else "nhóm chung của đơn vị"
    link = policy.ticket_link(ticket.number)
    footer = f"\n\nXem phiếu: {link}\n\n-- \n{SIGNATURE}\n"
    due_text = _when(due, policy)
    if kind == Kind.NEW_TICKET:
        subject = f"Phiếu mới {number}: {topic}"
        body = (
            f"Có phiếu mới số {number} gửi {department}.\n"
            f"Chủ đề: {topic}\nNgười gọi: {caller}\n"
            f"Gọi lúc: {_when(ticket.called_at, policy)}\nHạn gọi lại: {due_text}"
        )
        sms = f"Phiếu mới {number} ({topic}), hạn gọi lại {due_text}. {link}"
    elif kind == Kind.DUE_SOON:
        subject = f"Phiếu {number} sắp đến hạn gọi lại ({due_text})"
        body = (
            f"Phiếu {number} ({topic}) cần được gọi lại trước {due_text}.\n"
            f"Người gọi: {caller}\nPhụ trách: {owner}"
        )
        sms = f"Phiếu {number} sắp đến hạn gọi lại lúc {due_text}. {link}"
    elif kind == Kind.OVERDUE:
        subject = f"Phiếu {number} đã quá hạn gọi lại"
        body = (
            f"Phiếu {number} ({topic}) đã quá hạn gọi lại từ {due_text}.\n"
            f"Người gọi: {caller}\nPhụ trách: {owner}\nĐơn vị: {department}"
        )
        sms = f"Phiếu {number} đã quá hạn gọi lại từ {due_text}. {link}"
    elif kind == Kind.ESCALATION:
        minutes = policy.escalate_after_minutes
        subject = f"Cần xử lý: phiếu {number} quá hạn gọi lại hơn {minutes} phút"
        body = (
            f"Phiếu {number} ({topic}) quá hạn gọi lại từ {due_text} và vẫn chưa ai gọi lại.\n"
            f"Người gọi: {caller}\nPhụ trách: {owner}\nĐơn vị: {department}\n"
            "Đề nghị giám sát viên phân công xử lý ngay."
        )
        sms = f"Cần xử lý: phiếu {number} quá hạn gọi lại hơn {minutes} phút. {link}"
    elif kind == Kind.UNREACHABLE:
        subject = f"Không liên lạc được người gọi phiếu {number}"
        body = (
            f"Đã gọi lại {attempts} lần nhưng không liên lạc được người gọi phiếu {number} "
            f"({topic}).\nSố điện thoại: {caller}\nĐơn vị: {department}\n"
            "Đề nghị giám sát viên quyết định cách xử lý."
        )
        sms = f"Không liên lạc được người gọi phiếu {number} sau {attempts} lần. {link}"
    elif kind == Kind.RETURNED_TO_POOL:
        subject = f"Phiếu {number} đã được trả về nhóm chung"
        body = (
            f"Phiếu {number} ({topic}) quá hạn gọi lại từ {due_text} nên đã được trả về nhóm "
            f"chung của {department} để cán bộ khác gọi lại."
        )
        sms = f"Phiếu {number} đã được trả về nhóm chung vì quá hạn. {link}"
    elif kind == Kind.ANSWERED:
        subject = f"Phiếu {number} đã được trả lời"
        # To the caller: no internal link, and short enough for two Unicode SMS segments.
        body = sms = (
            f"{SIGNATURE}: câu hỏi của Quý doanh nghiệp (phiếu số {number}) đã được trả lời. "
            "Xin cảm ơn Quý doanh nghiệp!"
        )
        return Text(subject, body, sms)
    else:
        raise ValueError(f"unknown notification kind {kind!r}")
    return Text(subject, body + footer, sms)


# --- the outbox ------------------------------------------------------------------------------


def insert_once(db: Session, values: Mapping[str, Any]) -> bool:
    """Insert a notification row unless its unique key exists; return whether it was inserted.

    `INSERT … ON CONFLICT DO NOTHING` on SQLite and PostgreSQL: a concurrent poll that
    inserted the same key first makes this a no-op instead of an error that would roll back
    the whole poll. Other databases fall back to a savepoint around a plain insert.
    """
    table = cast(Table, Notification.__table__)
    dialect = db.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        # RETURNING, not rowcount: psycopg 3 reports -1 for ON CONFLICT DO NOTHING.
        stmt = insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)
        return db.execute(stmt).first() is not None
    try:
        with db.begin_nested():
            db.execute(table.insert().values(**values))
    except IntegrityError:
        return False
    return True


def queue_notification(
    db: Session,
    *,
    ticket: Ticket,
    kind: str,
    recipients: Iterable[User],
    now: datetime,
    policy: TicketPolicy,
    due: datetime | None = None,
    due_key: str | None = None,
    attempts: int = 0,
) -> int:
    """Add the rows of one notification for each recipient and channel; return how many."""
    text = compose(kind, ticket, policy=policy, due=due, attempts=attempts)
    key = due_key if due_key is not None else (due.isoformat() if due is not None else "")
    link = policy.ticket_link(ticket.number)
    # Skip the keys sent before without a round trip each: the poll re-examines overdue
    # tickets every minute. insert_once still guards against a concurrent poll.
    existing = {
        (user_id, channel)
        for user_id, channel in db.execute(
            select(Notification.user_id, Notification.channel).where(
                Notification.ticket_id == ticket.id,
                Notification.kind == kind,
                Notification.due_key == key,
            )
        )
    }
    added = 0
    seen: set[int] = set()
    for user in recipients:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        for channel in policy.channels_for(kind):
            if channel == SMS and not user.phone:
                continue
            if channel == SMS_CALLER or (user.id, channel) in existing:
                continue
            values = {
                "ticket_id": ticket.id,
                "user_id": user.id,
                "kind": kind,
                "channel": channel,
                "due_key": key,
                "subject": text.subject,
                "body": text.sms if channel == SMS else text.body,
                "link": link,
                "created_at": now,
                "sent_at": now if channel == INAPP else None,
            }
            added += insert_once(db, values)
    return added


def queue_caller_sms(
    db: Session, *, ticket: Ticket, by: User, now: datetime, policy: TicketPolicy
) -> bool:
    """Queue the "your question was answered" SMS to the caller; return whether queued.

    The row's user is the officer who resolved the ticket (the sender); it is marked read at
    once so it never shows in anyone's in-app list.
    """
    if SMS_CALLER not in policy.channels_for(Kind.ANSWERED):
        return False
    if not (ticket.callback_number or ticket.caller):
        return False
    text = compose(Kind.ANSWERED, ticket, policy=policy)
    return insert_once(
        db,
        {
            "ticket_id": ticket.id,
            "user_id": by.id,
            "kind": Kind.ANSWERED,
            "channel": SMS_CALLER,
            "due_key": "",
            "subject": text.subject,
            "body": text.sms,
            "link": policy.ticket_link(ticket.number),
            "created_at": now,
            "read_at": now,
        },
    )


@dataclass(frozen=True)
class Delivery:
    sent: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Outgoing:
    id: int
    channel: str
    to: str
    subject: str
    body: str


def _address(row: Notification) -> str | None:
    if row.channel == EMAIL:
        return row.user.email
    if row.channel == SMS:
        # Staff type their phone as they say it ("0912…"); Twilio wants E.164.
        return normalize_phone(row.user.phone)
    if row.channel == SMS_CALLER and row.ticket is not None:
        return normalize_phone(row.ticket.callback_number) or normalize_phone(row.ticket.caller)
    return None


def deliver_pending(
    sessions: sessionmaker[Session],
    *,
    now: datetime,
    notifiers: Mapping[str, Notifier],
    batch: int = 100,
    budget_s: float = 45.0,
) -> Delivery:
    """Send the outbox rows waiting on the channels we have; each row at most once.

    A row is claimed by a conditional update (sent_at set where it is still empty) and the
    claim is committed before anything is sent, so two pollers never send one row twice. A
    failure clears the claim and records the error; failed rows are not retried automatically
    (they stay visible with their error). Batches go out until the outbox is empty or the
    time budget (under the poll's one-minute period) is spent; the next poll goes on.
    """
    channels = {c for c in notifiers if c != INAPP}
    if SMS in notifiers:
        channels.add(SMS_CALLER)
    total = Delivery()
    if not channels:
        return total
    started = time.monotonic()
    while time.monotonic() - started < budget_s:
        claimed = _claim(sessions, now=now, channels=channels, limit=batch)
        if not claimed:
            break
        failures: dict[int, str] = {}
        for item in claimed:
            notifier = notifiers[SMS if item.channel == SMS_CALLER else item.channel]
            try:
                notifier.send(to=item.to, subject=item.subject, body=item.body)
            except Exception as exc:  # any channel error: record it, keep delivering the rest
                log.warning("notification %s on %s failed: %s", item.id, item.channel, exc)
                failures[item.id] = f"{type(exc).__name__}: {exc}"[:500]
        if failures:
            with sessions() as db, db.begin():
                for row_id, error in failures.items():
                    db.execute(
                        update(Notification)
                        .where(Notification.id == row_id)
                        .values(sent_at=None, error=error)
                    )
        total = Delivery(
            sent=total.sent + len(claimed) - len(failures), failed=total.failed + len(failures)
        )
    return total


def _claim(
    sessions: sessionmaker[Session], *, now: datetime, channels: set[str], limit: int
) -> list[_Outgoing]:
    """Claim up to `limit` pending rows (committed before returning)."""
    claimed: list[_Outgoing] = []
    with sessions() as db, db.begin():
        rows = db.scalars(
            select(Notification)
            .where(
                Notification.sent_at.is_(None),
                Notification.error.is_(None),
                Notification.channel.in_(channels),
            )
            .order_by(Notification.id)
            .limit(limit)
        ).all()
        for row in rows:
            to = _address(row)
            if not to:
                row.error = "không có địa chỉ nhận"
                continue
            result = db.execute(
                update(Notification)
                .where(
                    Notification.id == row.id,
                    Notification.sent_at.is_(None),
                    Notification.error.is_(None),
                )
                .values(sent_at=now)
                .execution_options(synchronize_session=False)
            )
            if cast(CursorResult[Any], result).rowcount == 1:
                claimed.append(_Outgoing(row.id, row.channel, to, row.subject, row.body))
    return claimed
