"""The services on their own: races on Twilio's SIDs, numbering, reopening."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from ivr import services
from ivr.params import RecordingParams
from storage.models import Call, Recording, Ticket, TicketKind, TicketStatus
from tickets.numbering import ticket_number

SID = "CA" + "ab" * 16


def test_open_call_is_idempotent_and_numbers_the_ticket(rt, clock) -> None:
    with rt.sessions.begin() as db:
        call = services.open_call(
            db, call_sid=SID, caller="+84912345678", called="", now=clock.now, calendar=None
        )
        again = services.open_call(
            db, call_sid=SID, caller="+84912345678", called="", now=clock.now, calendar=None
        )
        assert call is again
        ticket = services.ticket_of(call)
        assert ticket.number == ticket_number(ticket.id)
        assert ticket.called_at == clock.now


def test_two_requests_creating_the_same_call_end_with_one_row(rt, clock) -> None:
    # The other request commits its row after this one looked and found nothing.
    with rt.sessions.begin() as other:
        services.open_call(
            other, call_sid=SID, caller="+1", called="", now=clock.now, calendar=None
        )
    with rt.sessions.begin() as db:
        call = services._create_call(
            db, call_sid=SID, caller="+2", called="", now=clock.now, calendar=None
        )
        assert call.from_number == "+1"  # theirs, re-read after the savepoint rolled back
        # The session is still usable after the IntegrityError.
        assert services.ticket_of(call).status == TicketStatus.IN_CALL
    with rt.sessions() as db:
        assert len(db.scalars(select(Call)).all()) == len(db.scalars(select(Ticket)).all()) == 1


def test_concurrent_first_webhooks_make_one_ticket(app, twilio, rows) -> None:
    clients = [app.test_client() for _ in range(4)]
    results: list[int] = []

    def call_in(client: object) -> None:
        other = type(twilio)(client, twilio.token, call_sid=twilio.call_sid)  # type: ignore[arg-type]
        results.append(other.post("/ivr/incoming").status_code)

    threads = [threading.Thread(target=call_in, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4
    assert rows.count(Call) == rows.count(Ticket) == 1


def test_the_same_recording_twice_is_one_row(rt, clock) -> None:
    recording = RecordingParams(
        sid="RE" + "cd" * 16, url="https://api.twilio.com/r", duration_s=None
    )
    with rt.sessions.begin() as db:
        call = services.open_call(
            db, call_sid=SID, caller="", called="", now=clock.now, calendar=None
        )
        first = services.register_recording(
            db, call=call, recording=recording, now=clock.now, calendar=None, default_sla_hours=4
        )
    with rt.sessions.begin() as db:
        call = services.open_call(
            db, call_sid=SID, caller="", called="", now=clock.now, calendar=None
        )
        # Behind the back of this session's look-up: the insert hits the unique constraint.
        again = services._insert_recording(
            db,
            call=call,
            ticket=services.ticket_of(call),
            recording=RecordingParams(recording.sid, recording.url, 30),
        )
        assert again.id == first.id
        second = services.register_recording(
            db,
            call=call,
            recording=RecordingParams(recording.sid, recording.url, 30),
            now=clock.now,
            calendar=None,
            default_sla_hours=4,
        )
        assert second.twilio_duration_s == 30  # a missing duration is filled in later
    with rt.sessions() as db:
        assert len(db.scalars(select(Recording)).all()) == 1


def test_a_message_reopens_a_call_closed_as_too_short(rt, clock) -> None:
    with rt.sessions.begin() as db:
        call = services.open_call(
            db, call_sid=SID, caller="", called="", now=clock.now, calendar=None
        )
        services.end_call(
            db,
            call=call,
            status="completed",
            duration_s=None,  # computed from the start: 0 s
            now=clock.now,
            calendar=None,
            default_sla_hours=4,
            missed_call_min_seconds=5,
        )
        ticket = services.ticket_of(call)
        assert ticket.status == TicketStatus.RESOLVED
        assert call.duration_s == 0
        services.register_recording(
            db,
            call=call,
            recording=RecordingParams("RE" + "ef" * 16, "https://api.twilio.com/r", 3),
            now=clock.now + timedelta(seconds=20),
            calendar=None,
            default_sla_hours=4,
        )
        assert (ticket.kind, ticket.status) == (TicketKind.MESSAGE, TicketStatus.OPEN)
        assert ticket.resolved_at is None and ticket.resolution_note is None
