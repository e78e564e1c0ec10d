"""The `hotline` command: a Flask CLI group, so `hotline run`, `shell`, `routes` come for free."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import datetime
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from hotline.runtime import Runtime, runtime
from hotline.tasks import DEFAULT_QUEUE, QUEUES, TRANSCRIPTION_QUEUE, drain
from storage import migrate
from storage.db import transaction
from storage.seed import seed_reference


def _create_app() -> Flask:
    from hotline import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def main() -> None:
    """The hotline of the provincial rapid response team for businesses."""


def register_commands(app: Flask) -> None:
    """Attach every command group to the app's CLI."""
    from hotline.cli_calls import simulate_call_command
    from hotline.cli_production import purge_command
    from hotline.cli_tickets import tickets_group
    from hotline.cli_transcribe import recordings_group, transcribe_command
    from hotline.cli_users import seed_demo_command, users_group

    for command in (
        db_group,
        worker_command,
        seed_reference_command,
        seed_demo_command,
        tickets_group,
        users_group,
        transcribe_command,
        simulate_call_command,
        recordings_group,
    ):
        app.cli.add_command(command)
    recordings_group.add_command(purge_command)


def _rt() -> Runtime:
    return runtime(current_app)


# --- database ------------------------------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations (creates the database on first run)."""
    migrate.upgrade(_rt().settings.database_url, revision)
    click.echo(f"Database is at revision {revision}.")


@db_group.command("check")
@with_appcontext
def db_check() -> None:
    """Fail if the models differ from the migrations."""
    migrate.check(_rt().settings.database_url)
    click.echo("No differences between the models and the migrations.")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models."""
    migrate.revision(_rt().settings.database_url, message)


@click.command("seed-reference")
@with_appcontext
def seed_reference_command() -> None:
    """Load departments, topics, areas, office hours and holidays (safe to rerun)."""
    with transaction(_rt().sessions) as db:
        added = seed_reference(db)
    click.echo("Added: " + ", ".join(f"{n} {kind}" for kind, n in added.items()))


# --- the worker ----------------------------------------------------------------------------------


@click.command("worker")
@click.option(
    "--queue",
    type=click.Choice([*QUEUES, "all"]),
    default="all",
    show_default=True,
    help="Which queue to consume. 'all' runs the transcription consumer in a child process.",
)
@click.option("--workers", type=int, default=0, help="Worker threads (default: 2 light, 1 speech).")
@click.option("--once", is_flag=True, help="Run what is queued now, then exit.")
@with_appcontext
def worker_command(queue: str, workers: int, once: bool) -> None:
    """Run the task-queue consumer (downloads, transcription, routing, reminders, sweeps)."""
    rt = _rt()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    names = list(QUEUES) if queue == "all" else [queue]
    if once:
        for name in names:
            ran = drain(rt.queues[name])
            click.echo(f"{name}: ran {ran} job(s)")
        return
    child: subprocess.Popen[bytes] | None = None
    if queue == "all":
        # Two consumers cannot share one process's signal handlers; the speech worker gets a
        # process of its own, which is also what a separate GPU machine would run.
        child = subprocess.Popen(
            [sys.executable, "-m", "hotline", "worker", "--queue", TRANSCRIPTION_QUEUE]
        )
        queue = DEFAULT_QUEUE
    try:
        _consume(rt, queue, workers)
    finally:
        if child is not None:
            child.terminate()
            child.wait(timeout=30)


def _consume(rt: Runtime, queue: str, workers: int) -> None:
    options: dict[str, Any] = {
        "workers": workers or (2 if queue == DEFAULT_QUEUE else 1),
        "worker_type": "thread",
        # Periodic sweeps and reminders run on the light queue only (one consumer per site).
        "periodic": queue == DEFAULT_QUEUE,
        "check_worker_health": True,
    }
    consumer = rt.queues[queue].create_consumer(**options)
    consumer.run()


def echo_json(obj: Any) -> None:
    """Print one JSON object on one line, keeping Vietnamese letters readable."""
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


def parse_now(value: str | None) -> datetime:
    """Read a command's --now (ISO 8601 with an offset); none means the real time."""
    if not value:
        return runtime(current_app).clock()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint="--now") from exc
    if moment.tzinfo is None:
        raise click.BadParameter("give the offset too, e.g. +07:00", param_hint="--now")
    return moment
