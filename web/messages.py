"""Domain errors in the words of the page's language.

The ticket services raise `TicketError`s whose message is Vietnamese (what officers read);
an English page shows the English text of the same error class. Errors this module does not
know are not the user's to read: they propagate (500 and a log entry).
"""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from tickets import errors
from web.accounts import AccountError
from web.admin import AdminError

_ENGLISH: dict[type[errors.TicketError], Any] = {
    errors.NoteRequired: "Write the answer before closing the ticket.",
    errors.ReasonRequired: "Give a reason for the change.",
    errors.EmptyText: "The text must not be empty.",
    errors.TicketClosed: "The ticket is resolved and cannot be changed.",
    errors.NotAllowed: "You may not work on this ticket.",
    errors.AlreadyClaimed: "Another officer has this ticket.",
    errors.NotOwner: "Only the person who has the ticket can release it.",
    errors.UnknownDepartment: "This department was not found.",
    errors.UnknownTopic: "This topic was not found.",
    errors.InvalidOutcome: "Not a valid call outcome.",
    errors.NoStaffPhone: "Your account has no phone for the hotline to ring; dial by hand.",
    errors.NoCallbackNumber: "The ticket has no valid number to call back.",
    errors.DialFailed: "The hotline could not place the call; dial by hand and log the outcome.",
}

_ACCOUNT: dict[str, Any] = {
    "email": _l("Not an e-mail address."),
    "password": _l("The password needs at least 8 characters."),
    "duplicate": _l("A user with this e-mail exists already."),
    "department": _l("Unknown department."),
    "no_department": _l("Officers and callback staff need at least one department."),
}

_ADMIN: dict[str, Any] = {
    "code_taken": _l("This code is used already."),
    "digit_taken": _l("Another topic uses this keypad digit."),
    "sla": _l("The callback time must be positive."),
    "department": _l("Unknown department."),
    "weekday": _l("Unknown weekday."),
    "order": _l("Closing time must be after opening time."),
    "overlap": _l("This period overlaps another period of the same day."),
    "missing": _l("It was removed already."),
    "last_period": _l("The last opening period cannot be removed: the SLA clock needs one."),
    "day_taken": _l("This day is in the list already."),
}


def message_for(exc: BaseException) -> str | None:
    """Return what to show the user for `exc`, or None if it is not a user-facing error."""
    if isinstance(exc, errors.TicketError):
        if str(get_locale()) == "en":
            for cls in type(exc).__mro__:
                if cls in _ENGLISH and exc.message == cls.message:
                    return str(_ENGLISH[cls])
        return exc.message
    if isinstance(exc, AdminError):
        return str(_ADMIN.get(exc.reason, _l("The setting could not be saved.")))
    if isinstance(exc, AccountError):
        return str(_ACCOUNT.get(exc.reason, _l("The account could not be saved.")))
    return None
