"""A ticket as plain data (JSON for the CLI and the API)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from storage.models import Recording, Ticket, Transcript

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def iso_local(moment: datetime | None, tz: ZoneInfo = LOCAL_TZ) -> str | None:
    """Return ISO 8601 with the office's offset (e.g. 2026-11-27T09:30:00+07:00)."""
    return moment.astimezone(tz).isoformat() if moment is not None else None


def transcript_to_dict(transcript: Transcript) -> dict[str, Any]:
    """Return the transcript with its timed segments."""
    return {
        "text": transcript.best_text,
        "machine_text": transcript.text,
        "corrected": transcript.corrected_text is not None,
        "language": transcript.language,
        "engine": transcript.engine,
        "model": transcript.model,
        "confidence": transcript.confidence.value,
        "no_speech": transcript.no_speech,
        "processing_s": transcript.processing_s,
        "segments": [
            {
                "start": s.get("start"),
                "end": s.get("end"),
                "text": s.get("text"),
                "avg_logprob": s.get("avg_logprob"),
                "no_speech_prob": s.get("no_speech_prob"),
                "low_confidence": bool(s.get("low", False)),
            }
            for s in transcript.segments
        ],
    }


def recording_to_dict(recording: Recording) -> dict[str, Any]:
    """Return the recording's state (never its storage path)."""
    return {
        "sid": recording.recording_sid,
        "state": recording.status.value,
        "error": recording.error,
        "duration_s": recording.audio_duration_s or recording.twilio_duration_s,
        "sha256": recording.audio_sha256,
    }


def ticket_to_dict(
    ticket: Ticket, tz: ZoneInfo = LOCAL_TZ, *, earlier: Sequence[Ticket] | None = None
) -> dict[str, Any]:
    """Return what the CLI's `tickets show --json` and the API print for one ticket.

    `earlier`: the caller's earlier tickets (`tickets.queries.earlier_tickets`), when the
    caller of this function looked them up.
    """
    recording = ticket.recordings[-1] if ticket.recordings else None
    transcript = recording.transcript if recording is not None else None
    return {
        "number": ticket.number,
        "status": ticket.status.value,
        "kind": ticket.kind.value,
        "language": ticket.language.value,
        "caller": ticket.caller,
        "callback_number": ticket.callback_number,
        "topic": ticket.topic.code if ticket.topic else None,
        "topic_name": ticket.topic.name_vi if ticket.topic else None,
        "department": ticket.department.code if ticket.department else None,
        "department_name": ticket.department.name_vi if ticket.department else None,
        "area": ticket.area.name if ticket.area else None,
        "area_code": ticket.area.code if ticket.area else None,
        "created_at": iso_local(ticket.called_at, tz),
        "callback_due_at": iso_local(ticket.callback_due_at, tz),
        "next_attempt_at": iso_local(ticket.next_attempt_at, tz),
        "first_callback_at": iso_local(ticket.first_callback_at, tz),
        "owner": ticket.owner.email if ticket.owner else None,
        "owner_name": ticket.owner.name if ticket.owner else None,
        "routing_reason": ticket.routing_reason,
        "suggestion": (
            {
                "topic": ticket.suggested_topic.code,
                "topic_name": ticket.suggested_topic.name_vi,
                "department": (
                    ticket.suggested_topic.department.code
                    if ticket.suggested_topic.department
                    else None
                ),
                "reason": ticket.suggestion_reason,
            }
            if ticket.suggested_topic is not None
            else None
        ),
        "resolved_at": iso_local(ticket.resolved_at, tz),
        "resolution_note": ticket.resolution_note,
        "recording": recording_to_dict(recording) if recording is not None else None,
        "transcript": transcript_to_dict(transcript) if transcript is not None else None,
        "attempts": [
            {
                "at": iso_local(a.started_at, tz),
                "outcome": a.outcome.value,
                "note": a.note,
                "by": a.user.email if a.user else None,
                "number_dialled": a.number_dialled,
                "answered": a.answered,
                "duration_s": a.duration_s,
                "twilio_status": a.twilio_status,
            }
            for a in ticket.attempts
        ],
        "earlier_tickets": [
            {
                "number": t.number,
                "at": iso_local(t.called_at, tz),
                "status": t.status.value,
                "topic": t.topic.code if t.topic else None,
            }
            for t in earlier or ()
        ],
    }
