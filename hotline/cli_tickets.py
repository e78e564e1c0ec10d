"""`hotline tickets ...`: the tickets from a terminal."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from hotline.cli import echo_json
from hotline.runtime import runtime
from storage.db import transaction
from tickets.queries import latest_tickets, ticket_by_number
from tickets.serialize import LOCAL_TZ, ticket_to_dict


@click.group("tickets")
def tickets_group() -> None:
    """Look at tickets and run the ticket jobs by hand."""


@tickets_group.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@with_appcontext
def tickets_list(limit: int) -> None:
    """Print the latest tickets, newest first."""
    with transaction(runtime(current_app).sessions) as db:
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
    """Print one ticket."""
    with transaction(runtime(current_app).sessions) as db:
        ticket = ticket_by_number(db, number)
        if ticket is None:
            raise click.ClickException(f"no ticket numbered {number}")
        data = ticket_to_dict(ticket)
    if as_json:
        echo_json(data)
        return
    for key in (
        "number",
        "status",
        "kind",
        "caller",
        "topic_name",
        "department_name",
        "area",
        "created_at",
        "callback_due_at",
        "owner",
        "routing_reason",
    ):
        click.echo(f"{key:>16}: {data[key] if data[key] is not None else '—'}")
    if data["recording"]:
        click.echo(
            f"{'recording':>16}: {data['recording']['state']}"
            + (f" ({data['recording']['error']})" if data["recording"]["error"] else "")
        )
    if data["transcript"]:
        click.echo(
            f"{'transcript':>16}: [{data['transcript']['confidence']}] {data['transcript']['text']}"
        )
