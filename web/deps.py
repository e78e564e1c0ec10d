"""What the web layer gets from the composition root (the web package never imports hotline)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from storage.audio_store import AudioStore
from tickets.calendar import OfficeCalendar, load_calendar
from tickets.policy import TicketPolicy
from tickets.services import Dialer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebDeps:
    audio_store: AudioStore
    # The runtime's service registry (jobs, dialer, ticket policy ...), read at request time
    # so services registered after the web blueprints still count.
    services: Mapping[str, Any]
    timezone: str
    twilio_configured: bool
    # The app's clock (an aware UTC datetime); tests freeze it.
    clock: Callable[[], datetime]

    def policy(self) -> TicketPolicy:
        """Return the ticket rules (SLA, retries, channels)."""
        found = self.services.get("ticket_policy")
        # The tickets wiring registers it; the defaults keep a bare web app (tests) working.
        return found if isinstance(found, TicketPolicy) else TicketPolicy(timezone=self.timezone)

    def dialer(self) -> Dialer | None:
        """Return the click-to-call dialer, or None when Twilio is not configured."""
        if not self.twilio_configured:
            return None
        found: Dialer | None = self.services.get("dialer")
        return found

    def calendar(self, db: Session) -> OfficeCalendar:
        """Return the office calendar (hours and holidays as an admin set them)."""
        return load_calendar(db, self.timezone)

    def enqueue(self, job: str, *args: Any) -> None:
        """Wake a worker after the commit (never fails: the sweep finds missed work)."""
        jobs = self.services.get("jobs")
        if jobs is None or job not in jobs.names:
            log.warning("job %s is not registered; the periodic sweep will pick the work up", job)
            return
        jobs.enqueue(job, *args)


def deps() -> WebDeps:
    """Return the current app's web dependencies."""
    found: WebDeps = current_app.extensions["web"]
    return found


def current_time() -> datetime:
    """Return the current time by the app's clock (never the wall clock directly)."""
    return deps().clock()
