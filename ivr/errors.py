"""Errors of the phone line, mapped to HTTP answers in `views`."""

from __future__ import annotations


class IvrError(Exception):
    """Base of every error raised by this package."""


class BadWebhook(IvrError):
    """A Twilio request lacks a parameter or carries a malformed one (answered with 400)."""


class TelephonyError(IvrError):
    """Twilio's REST API refused or could not be reached.

    `transient` says whether trying again later may succeed (network trouble, 429, 5xx); a
    refused number or a missing sender will fail the same way every time.
    """

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
