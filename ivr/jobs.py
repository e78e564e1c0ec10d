"""The phone line's job: the confirmation SMS, sent from the worker after the call.

Webhooks never wait on the network, so the record action only enqueues this job (after its
commit). The job is idempotent: an audit event on the ticket ("sms_confirmation") is claimed
before sending, so a replayed or duplicated job sends nothing twice; a transient failure
releases the claim and raises, so the queue's retry can try again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts
from ivr.errors import TelephonyError
from ivr.telephony import Telephony, can_receive_sms
from storage.db import transaction
from storage.models import AuditEvent, Ticket, TicketKind

log = logging.getLogger(__name__)

SMS_ACTION = "sms_confirmation"


def send_confirmation_sms(
    sessions: sessionmaker[Session],
    *,
    ticket_id: int,
    telephony: Telephony,
    tz_name: str,
    now: datetime,
) -> str:
    """Text the caller the ticket number and callback time; return what happened."""
    with transaction(sessions) as db:
        ticket = db.get(Ticket, ticket_id)
        if ticket is None or not ticket.number:
            return "no_ticket"
        claimed = db.scalar(
            select(AuditEvent.id).where(
                AuditEvent.ticket_id == ticket_id, AuditEvent.action == SMS_ACTION
            )
        )
        if claimed is not None:
            return "already_sent"
        to = ticket.caller
        if not can_receive_sms(to):
            return "not_mobile"
        body = prompts.sms_confirmation(
            ticket.language,
            number=ticket.number,
            message=ticket.kind == TicketKind.MESSAGE,
            due=ticket.callback_due_at,
            tz=ZoneInfo(tz_name),
        )
        claim = AuditEvent(
            ticket_id=ticket_id, at=now, action=SMS_ACTION, to_value=to, reason="Đang gửi"
        )
        db.add(claim)
        db.flush()
        claim_id = claim.id

    # Outside any transaction: SQLite holds its write lock for a whole transaction.
    try:
        sid = telephony.send_sms(to=to, body=body)
    except TelephonyError as exc:
        with transaction(sessions) as db:
            event = db.get(AuditEvent, claim_id)
            if event is not None:
                if exc.transient:
                    db.delete(event)
                else:
                    event.reason = f"Không gửi được tin nhắn xác nhận: {exc}"
        if exc.transient:
            log.warning("SMS for ticket %s failed, will retry: %s", ticket_id, exc)
            raise
        log.warning("SMS for ticket %s refused: %s", ticket_id, exc)
        return "failed"
    with transaction(sessions) as db:
        event = db.get(AuditEvent, claim_id)
        if event is not None:
            event.reason = f"Đã gửi tin nhắn xác nhận ({sid})"
    return "sent"
