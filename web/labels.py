"""Words for the model's codes (statuses, outcomes, roles, audit actions), in both languages."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from storage.models import (
    Confidence,
    RecordingStatus,
    TicketKind,
    TicketStatus,
)
from web.forms import OUTCOME_LABELS, ROLE_LABELS

STATUS_LABELS: dict[TicketStatus, Any] = {
    TicketStatus.IN_CALL: _l("In call"),
    TicketStatus.OPEN: _l("Waiting for callback"),
    TicketStatus.FOLLOW_UP: _l("Follow-up needed"),
    TicketStatus.RESOLVED: _l("Resolved"),
    TicketStatus.UNREACHABLE: _l("Unreachable"),
}

KIND_LABELS: dict[TicketKind, Any] = {
    TicketKind.MESSAGE: _l("Voice message"),
    TicketKind.MISSED_CALL: _l("Missed call"),
}

RECORDING_LABELS: dict[RecordingStatus, Any] = {
    RecordingStatus.PENDING: _l("Waiting for download"),
    RecordingStatus.DOWNLOADING: _l("Downloading"),
    RecordingStatus.STORED: _l("Waiting for transcription"),
    RecordingStatus.TRANSCRIBING: _l("Transcribing"),
    RecordingStatus.TRANSCRIBED: _l("Transcribed"),
    RecordingStatus.FAILED: _l("Transcription failed"),
}

CONFIDENCE_LABELS: dict[Confidence, Any] = {
    Confidence.HIGH: _l("Machine transcript, mostly reliable"),
    Confidence.MEDIUM: _l("Machine transcript, check it against the audio"),
    Confidence.LOW: _l("Machine transcript, unreliable: listen to the audio"),
    Confidence.NO_SPEECH: _l("No speech was heard"),
}

# Audit actions written by the ticket services; an unknown action is shown as its code.
ACTION_LABELS: dict[str, Any] = {
    "created": _l("Ticket created"),
    "routed": _l("Routed"),
    "reassigned": _l("Sent to another department"),
    "reassign": _l("Sent to another department"),
    "department": _l("Department changed"),
    "topic_changed": _l("Topic changed"),
    "change_topic": _l("Topic changed"),
    "topic": _l("Topic changed"),
    "claimed": _l("Claimed"),
    "claim": _l("Claimed"),
    "released": _l("Released to the pool"),
    "release": _l("Released to the pool"),
    "returned_to_pool": _l("Returned to the pool"),
    "status": _l("Status changed"),
    "status_changed": _l("Status changed"),
    "attempt": _l("Callback attempt"),
    "attempt_logged": _l("Callback attempt"),
    "resolved": _l("Resolved"),
    "resolve": _l("Resolved"),
    "transcript_corrected": _l("Transcript corrected"),
    "correct_transcript": _l("Transcript corrected"),
    "note_added": _l("Note added"),
    "escalated": _l("Escalated to a supervisor"),
    "click_to_call": _l("Click-to-call started"),
    "owner": _l("Owner changed"),
}


def label(mapping: dict[Any, Any], value: Any) -> str:
    """Return the label of `value` in `mapping`, or the value itself."""
    found = mapping.get(value)
    if found is None and hasattr(value, "value"):
        found = mapping.get(value.value)
    if found is None:
        return str(getattr(value, "value", value) or "")
    return str(found)


def template_globals() -> dict[str, Any]:
    """Return the label lookups templates use."""
    return {
        "status_label": lambda v: label(STATUS_LABELS, v),
        "kind_label": lambda v: label(KIND_LABELS, v),
        "recording_label": lambda v: label(RECORDING_LABELS, v),
        "confidence_label": lambda v: label(CONFIDENCE_LABELS, v),
        "outcome_label": lambda v: label(
            {k.value: val for k, val in OUTCOME_LABELS.items()}, getattr(v, "value", v)
        ),
        "role_label": lambda v: label(
            {k.value: val for k, val in ROLE_LABELS.items()}, getattr(v, "value", v)
        ),
        "action_label": lambda v: label(ACTION_LABELS, v),
    }
