"""Diacritics-folded search over tickets.

Officers type without diacritics ("hoan thue") and expect to find "hoàn thuế". Neither SQLite
nor a stock PostgreSQL folds Vietnamese (`unaccent` is an extension we cannot assume), so each
ticket keeps `search_text`: the folded, lower-cased words of its caller numbers, business name,
transcripts (machine and corrected) and notes, maintained on every flush that changes one of
them (a webhook that only moves the ticket along loads none of them). The ticket number is a
column of its own and searched beside it. A search folds the query the same way and matches
with LIKE, escaping the wildcards.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, UOWTransaction

from storage.models import Recording, Ticket, TicketNote, Transcript

# NFD splits most Vietnamese letters into base + combining marks; đ/Đ is a letter of its own.
_EXTRA = str.maketrans({"đ": "d", "Đ": "d", "ð": "d"})


def fold(text: str) -> str:
    """Return `text` lower-cased, without diacritics, with single spaces."""
    decomposed = unicodedata.normalize("NFD", text.translate(_EXTRA))
    # Combining marks go (diacritics), and so do control characters: PostgreSQL refuses NUL in
    # text, and none of them is ever searched for.
    bare = "".join(
        ch
        for ch in decomposed
        if not unicodedata.combining(ch) and (unicodedata.category(ch) != "Cc" or ch in "\t\n\r")
    )
    return " ".join(bare.lower().split())


def like_pattern(query: str) -> str:
    """Return a LIKE pattern matching the folded query anywhere (use with escape='\\')."""
    folded = fold(query)
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def ticket_search_text(ticket: Ticket) -> str:
    """Return the folded text a ticket is found by."""
    parts: list[str] = [ticket.caller, ticket.callback_number or ""]
    # Callers say "0912…" and Twilio writes "+84912…": index both forms.
    for number in (ticket.caller, ticket.callback_number or ""):
        if number.startswith("+84"):
            parts.append("0" + number[3:])
    parts.append(ticket.business_name or "")
    for recording in ticket.recordings:
        transcript = recording.transcript
        if transcript is not None:
            parts.append(transcript.text)
            parts.append(transcript.corrected_text or "")
    parts.extend(note.body for note in ticket.notes)
    parts.append(ticket.resolution_note or "")
    return fold(" ".join(p for p in parts if p))


# The columns ticket_search_text reads, per model: a flush that changes none of them leaves
# the ticket's search_text as it is.
_TEXT_FIELDS: dict[type, tuple[str, ...]] = {
    Ticket: ("caller", "callback_number", "business_name", "resolution_note"),
    TicketNote: ("body", "ticket_id"),
    Transcript: ("text", "corrected_text", "recording_id"),
}


def _text_changed(obj: object) -> bool:
    fields = _TEXT_FIELDS.get(type(obj), ())
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in fields)


def _ticket_of(obj: object) -> Ticket | None:
    if isinstance(obj, Ticket):
        return obj
    if isinstance(obj, TicketNote):
        return obj.ticket
    if isinstance(obj, Transcript):
        return obj.recording.ticket if obj.recording is not None else None
    if isinstance(obj, Recording):
        return obj.ticket
    return None


def _tickets_touched(session: Session) -> set[Ticket]:
    touched: set[Ticket] = set()
    for obj in session.new:
        # A new recording brings text only when a transcript came with it; reading its
        # instance dict does not load anything.
        if isinstance(obj, Recording) and obj.__dict__.get("transcript") is None:
            continue
        ticket = _ticket_of(obj)
        if ticket is not None:
            touched.add(ticket)
    for obj in session.dirty:
        if type(obj) in _TEXT_FIELDS and _text_changed(obj):
            ticket = _ticket_of(obj)
            if ticket is not None:
                touched.add(ticket)
    return touched


@event.listens_for(Session, "before_flush")
def _refresh_search_text(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    for ticket in _tickets_touched(session):
        text = ticket_search_text(ticket)
        if ticket.search_text != text:
            ticket.search_text = text
