"""`hotline tickets ...`: the tickets from a terminal, and the CLI twins of the ticket jobs.

`send-reminders` and `sweep` run exactly what the worker runs every minute. Their hidden
`--now` option (ISO 8601 with an offset) moves the clock, for tests and demonstrations:
`hotline tickets send-reminders --now 2026-12-01T16:00:00+07:00`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from hotline.cli import echo_json, parse_now
from hotline.runtime import Runtime, runtime
from storage.db import transaction
from storage.models import User
from tickets import jobs
from tickets.phones import display_phone
from tickets.policy import TicketPolicy
from tickets.queries import earlier_tickets, latest_tickets, ticket_by_number
from tickets.serialize import LOCAL_TZ, iso_local, ticket_to_dict
from tickets.services import callback_queue

_now_option = click.option(
    "--now", "now_text", hidden=True, help="Pretend it is this time (ISO 8601 with offset)."
)


def _rt() -> Runtime:
    return runtime(current_app)


def _policy(rt: Runtime) -> TicketPolicy:
    policy: TicketPolicy = rt.services["ticket_policy"]
    return policy


@click.group("tickets")
def tickets_group() -> None:
    """Look at tickets and run the ticket jobs by hand."""


@tickets_group.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@with_appcontext
def tickets_list(limit: int) -> None:
    """Print the latest tickets, newest first."""
    with transaction(_rt().sessions) as db:
        tickets = latest_tickets(db, limit=limit)
        if not tickets:
            click.echo("No tickets yet.")
            return
        click.echo(f"{'NUMBER':<8} {'TIME (ICT)':<17} {'CALLER':<14} {'TOPIC':<34} STATUS")
        for t in tickets:
            when = t.called_at.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")
            topic = t.topic.name_vi if t.topic else "—"
            click.echo(
                f"{t.number:<8} {when:<17} {t.caller or 'ẩn số':<14} {topic:<34} {t.status.value}"
            )


@tickets_group.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def tickets_show(number: str, as_json: bool) -> None:
    """Print one ticket, its callback attempts and the caller's earlier tickets."""
    with transaction(_rt().sessions) as db:
        ticket = ticket_by_number(db, number)
        if ticket is None:
            raise click.ClickException(f"no ticket numbered {number}")
        data = ticket_to_dict(ticket, earlier=earlier_tickets(db, ticket))
    if as_json:
        echo_json(data)
        return
    for key in (
        "number",
        "status",
        "kind",
        "caller",
        "callback_number",
        "topic_name",
        "department_name",
        "area",
        "created_at",
        "callback_due_at",
        "next_attempt_at",
        "owner",
        "routing_reason",
    ):
        click.echo(f"{key:>16}: {data[key] if data[key] is not None else '—'}")
    if data["suggestion"]:
        click.echo(
            f"{'suggestion':>16}: {data['suggestion']['topic_name']} "
            f"({data['suggestion']['reason']})"
        )
    if data["recording"]:
        click.echo(
            f"{'recording':>16}: {data['recording']['state']}"
            + (f" ({data['recording']['error']})" if data["recording"]["error"] else "")
        )
    if data["transcript"]:
        click.echo(
            f"{'transcript':>16}: [{data['transcript']['confidence']}] {data['transcript']['text']}"
        )
    for attempt in data["attempts"]:
        click.echo(
            f"{'attempt':>16}: {attempt['at']} {attempt['outcome']} by {attempt['by'] or '—'}"
            + (f": {attempt['note']}" if attempt["note"] else "")
        )
    for earlier in data["earlier_tickets"]:
        click.echo(f"{'earlier':>16}: {earlier['number']} {earlier['at']} {earlier['status']}")


@tickets_group.command("route")
@click.argument("number")
@_now_option
@with_appcontext
def tickets_route(number: str, now_text: str | None) -> None:
    """Route one ticket again (what the worker does after a transcript); print the result."""
    rt = _rt()
    with transaction(rt.sessions) as db:
        ticket = ticket_by_number(db, number)
        if ticket is None:
            raise click.ClickException(f"no ticket numbered {number}")
        ticket_id = ticket.id
    jobs.route_ticket_job(rt.sessions, ticket_id, now=parse_now(now_text), policy=_policy(rt))
    with transaction(rt.sessions) as db:
        ticket = ticket_by_number(db, number)
        assert ticket is not None
        click.echo(
            f"{ticket.number}: {ticket.department.name_vi if ticket.department else '—'}; "
            f"hạn gọi lại {iso_local(ticket.callback_due_at)}; {ticket.routing_reason}"
        )


@tickets_group.command("send-reminders")
@_now_option
@with_appcontext
def tickets_send_reminders(now_text: str | None) -> None:
    """Queue and send the reminders due now (the worker does this every minute)."""
    rt = _rt()
    report = jobs.send_reminders(
        rt.sessions,
        now=parse_now(now_text),
        policy=_policy(rt),
        notifiers=rt.services["notifiers"],
    )
    queued = ", ".join(f"{kind} {n}" for kind, n in sorted(report.queued.added.items()))
    click.echo(f"Queued: {queued or 'nothing'}")
    click.echo(f"Sent: {report.delivery.sent}, failed: {report.delivery.failed}")


@tickets_group.command("sweep")
@_now_option
@with_appcontext
def tickets_sweep(now_text: str | None) -> None:
    """Route stuck tickets, return overdue callbacks to the pool, close stale dials."""
    rt = _rt()
    report = jobs.sweep(rt.sessions, now=parse_now(now_text), policy=_policy(rt))
    click.echo(f"Routed: {', '.join(report.routed) or 'none'}")
    click.echo(f"Returned to the pool: {', '.join(report.returned_to_pool) or 'none'}")
    click.echo(f"Click-to-calls logged as unanswered: {report.dials_closed}")


@tickets_group.command("queue")
@click.option("--user", "email", required=True, help="Whose queue (e-mail).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
@_now_option
@with_appcontext
def tickets_queue(email: str, limit: int, as_json: bool, now_text: str | None) -> None:
    """Print a user's callback queue, most urgent first."""
    now = parse_now(now_text)
    with transaction(_rt().sessions) as db:
        user = db.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"no user with e-mail {email}")
        entries = callback_queue(db, user=user, now=now, limit=limit)
        rows: list[dict[str, Any]] = [
            {
                "number": e.ticket.number,
                "due_at": iso_local(e.due_at),
                "overdue": e.overdue,
                "owner": e.ticket.owner.email if e.ticket.owner else None,
                "department": e.ticket.department.code if e.ticket.department else None,
                "caller": display_phone(e.ticket.callback_number or e.ticket.caller),
                "status": e.ticket.status.value,
            }
            for e in entries
        ]
    if as_json:
        for row in rows:
            echo_json(row)
        return
    if not rows:
        click.echo("Nothing to call back.")
        return
    click.echo(f"{'NUMBER':<8} {'DUE (ICT)':<17} {'DEPARTMENT':<24} {'OWNER':<24} CALLER")
    for row in rows:
        due = datetime.fromisoformat(row["due_at"]) if row["due_at"] else None
        when = due.strftime("%d/%m/%Y %H:%M") if due else "—"
        flag = "  QUÁ HẠN" if row["overdue"] else ""
        click.echo(
            f"{row['number']:<8} {when:<17} {row['department'] or '—':<24} "
            f"{row['owner'] or 'nhóm chung':<24} {row['caller'] or 'ẩn số'}{flag}"
        )
