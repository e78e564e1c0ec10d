"""The tickets subsystem, adapted from the runtime: policy, notifiers, dialler, jobs, webhooks.

`tickets` knows nothing of Flask, huey or the settings. Here the settings become a
`TicketPolicy`, the channels that are configured become `Notifier`s (in-app always; e-mail when
HOTLINE_SMTP_HOST is set; SMS when Twilio is), and the telephony service of the phone line
becomes the click-to-call dialler. They are kept in `rt.services` (and `app.extensions`) under:

- "ticket_policy": `tickets.policy.TicketPolicy`;
- "notifiers": `dict[channel, tickets.notify.Notifier]`;
- "dialer": `tickets.services.Dialer`, or None when Twilio is not configured (staff dial by
  hand and log the outcome).

Jobs: "route_ticket"(ticket_id), and every minute "send_reminders" and "sweep_tickets"; the CLI
twins (`hotline tickets send-reminders`, `hotline tickets sweep`) call the same functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask

from hotline.config import Settings
from hotline.runtime import Runtime
from hotline.tasks import JobRegistry
from ivr import outbound
from ivr.telephony import Telephony
from tickets import jobs
from tickets.notify import EmailNotifier, InAppNotifier, Notifier, SmsNotifier
from tickets.policy import INAPP, SMS, SMS_CALLER, TicketPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TwilioDialer:
    """Click-to-call through the phone line's telephony (Twilio's REST API).

    Rings the staff phone showing the hotline's number; when the staff member answers, Twilio
    fetches `ivr.outbound`'s connect TwiML for the attempt, which dials the caller.
    """

    telephony: Telephony
    caller_id: str
    base_url: str

    def call_staff(self, *, staff_phone: str, attempt_id: int) -> str:
        base = self.base_url.rstrip("/")
        return self.telephony.place_call(
            to=staff_phone,
            url=base + outbound.connect_path(attempt_id),
            status_callback=base + outbound.status_path(attempt_id),
            caller_id=self.caller_id,
        )


def public_base(settings: Settings) -> str:
    """Return the address Twilio and people reach the hotline at."""
    return (settings.public_url or settings.base_url).rstrip("/")


def build_notifiers(settings: Settings, telephony: Any | None) -> dict[str, Notifier]:
    """Return the notifiers of the configured channels."""
    notifiers: dict[str, Notifier] = {INAPP: InAppNotifier()}
    if settings.smtp_host:
        notifiers["email"] = EmailNotifier(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            mail_from=settings.mail_from,
        )
    if telephony is not None and settings.twilio_configured:
        notifiers[SMS] = SmsNotifier(telephony)
    return notifiers


def build_policy(settings: Settings, channels: frozenset[str]) -> TicketPolicy:
    """Return the ticket rules the settings describe (fails fast on a bad retry schedule)."""
    available = set(channels)
    if SMS in available:
        available.add(SMS_CALLER)
    return TicketPolicy(
        default_sla_hours=settings.default_sla_hours,
        retry_schedule=tuple(settings.retry_schedule),
        max_attempts=settings.max_attempts,
        pool_return_minutes=settings.pool_return_minutes,
        escalate_after_minutes=settings.escalate_after_minutes,
        due_soon_minutes=settings.due_soon_minutes,
        resolved_sms=settings.resolved_sms,
        base_url=settings.base_url,
        timezone=settings.timezone,
        channels=frozenset(available),
    )


def build_dialer(settings: Settings, telephony: Any | None) -> TwilioDialer | None:
    """Return the click-to-call dialler, or None when Twilio is not fully configured."""
    if telephony is None or not settings.twilio_configured or not settings.twilio_phone_number:
        return None
    return TwilioDialer(telephony, settings.twilio_phone_number, public_base(settings))


def init_app(app: Flask, rt: Runtime) -> None:
    """Register the policy, the notifiers, the dialler and the click-to-call webhooks."""
    telephony = rt.services.get("telephony")
    notifiers = build_notifiers(rt.settings, telephony)
    policy = build_policy(rt.settings, frozenset(notifiers))
    dialer = build_dialer(rt.settings, telephony)
    for name, service in (("ticket_policy", policy), ("notifiers", notifiers), ("dialer", dialer)):
        rt.services[name] = service
        app.extensions[name] = service
    app.register_blueprint(outbound.bp)


def register(registry: JobRegistry) -> None:
    """Register "route_ticket" and the two periodic jobs."""
    rt = registry.rt

    def route_ticket(ticket_id: int) -> bool:
        return jobs.route_ticket_job(
            rt.sessions, ticket_id, now=rt.clock(), policy=rt.services["ticket_policy"]
        )

    def send_reminders() -> None:
        report = jobs.send_reminders(
            rt.sessions,
            now=rt.clock(),
            policy=rt.services["ticket_policy"],
            notifiers=rt.services["notifiers"],
        )
        if report.queued.total or report.delivery.sent or report.delivery.failed:
            log.info(
                "reminders: queued %s, sent %d, failed %d",
                report.queued.added,
                report.delivery.sent,
                report.delivery.failed,
            )

    def sweep_tickets() -> None:
        report = jobs.sweep(rt.sessions, now=rt.clock(), policy=rt.services["ticket_policy"])
        if report.routed or report.returned_to_pool or report.dials_closed:
            log.info("ticket sweep: %s", report)

    # Routing reads only our own database: a retry helps only against a locked SQLite file.
    registry.task("route_ticket", route_ticket, retries=2, retry_delay=10)
    registry.periodic("send_reminders", send_reminders)
    registry.periodic("sweep_tickets", sweep_tickets)
