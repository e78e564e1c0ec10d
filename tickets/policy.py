"""The ticket rules that are settings: SLA, retries, reminders, channels.

Built once from the application's settings by the composition root and passed to services and
jobs, so the domain code never reads configuration itself and tests state the rules they use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

MORNING = "morning"

# Notification channels. "sms_caller" is the caller's own phone (the "answered" SMS); the others
# reach hotline staff.
INAPP = "inapp"
EMAIL = "email"
SMS = "sms"
SMS_CALLER = "sms_caller"
CHANNELS = (INAPP, EMAIL, SMS, SMS_CALLER)


class Kind:
    """Notification kinds (the `kind` column)."""

    NEW_TICKET = "new_ticket"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    UNREACHABLE = "unreachable"
    RETURNED_TO_POOL = "returned_to_pool"
    ANSWERED = "answered"  # to the caller, after resolving


# Which channels each kind goes out on (when that channel is available). SMS interrupts
# people, so only the kinds that mean "a caller is waiting too long" use it.
DEFAULT_KIND_CHANNELS: dict[str, tuple[str, ...]] = {
    Kind.NEW_TICKET: (INAPP, EMAIL),
    Kind.DUE_SOON: (INAPP, EMAIL),
    Kind.OVERDUE: (INAPP, EMAIL, SMS),
    Kind.ESCALATION: (INAPP, EMAIL, SMS),
    Kind.UNREACHABLE: (INAPP, EMAIL),
    Kind.RETURNED_TO_POOL: (INAPP,),
    Kind.ANSWERED: (SMS_CALLER,),
}


def parse_retry_schedule(entries: tuple[str, ...]) -> tuple[int | str, ...]:
    """Return the schedule as minutes or MORNING; raise ValueError on a bad entry."""
    steps: list[int | str] = []
    for entry in entries:
        text = str(entry).strip().lower()
        if text == MORNING:
            steps.append(MORNING)
        elif text.isdigit() and int(text) > 0:
            steps.append(int(text))
        else:
            raise ValueError(
                f"retry schedule entry {entry!r}: expected minutes (e.g. 60) or {MORNING!r}"
            )
    if not steps:
        raise ValueError("the retry schedule is empty")
    return tuple(steps)


@dataclass(frozen=True)
class TicketPolicy:
    default_sla_hours: float = 4.0
    retry_schedule: tuple[str, ...] = ("60", "240", MORNING)
    max_attempts: int = 3
    pool_return_minutes: int = 30
    escalate_after_minutes: int = 120
    due_soon_minutes: int = 30
    resolved_sms: bool = False
    base_url: str = "http://127.0.0.1:5000"
    timezone: str = "Asia/Ho_Chi_Minh"
    # Channels that can deliver here (in-app always; e-mail with SMTP; SMS with Twilio).
    channels: frozenset[str] = frozenset({INAPP})
    kind_channels: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_KIND_CHANNELS)
    )
    # A ticket still "in call" this long after the call began lost its end-of-call webhook.
    stale_in_call_minutes: int = 60
    # "New ticket" notices only for tickets this recent: a worker started after a long stop
    # must not mail the whole backlog.
    new_ticket_lookback_hours: int = 72
    # A click-to-call whose caller did not answer, and whose outcome nobody logged, is logged
    # automatically after this long.
    stale_dial_minutes: int = 30

    def __post_init__(self) -> None:
        parse_retry_schedule(self.retry_schedule)
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.default_sla_hours <= 0:
            raise ValueError("default_sla_hours must be positive")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def steps(self) -> tuple[int | str, ...]:
        return parse_retry_schedule(self.retry_schedule)

    @property
    def due_soon(self) -> timedelta:
        return timedelta(minutes=self.due_soon_minutes)

    @property
    def escalate_after(self) -> timedelta:
        return timedelta(minutes=self.escalate_after_minutes)

    @property
    def pool_return_after(self) -> timedelta:
        return timedelta(minutes=self.pool_return_minutes)

    def channels_for(self, kind: str) -> tuple[str, ...]:
        """Return the available channels that `kind` goes out on."""
        return tuple(c for c in self.kind_channels.get(kind, (INAPP,)) if c in self.channels)

    def ticket_link(self, number: str | None) -> str:
        """Return the ticket page's address, for every notification."""
        return f"{self.base_url.rstrip('/')}/tickets/{number or ''}"
