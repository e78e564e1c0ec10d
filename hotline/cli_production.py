"""`hotline recordings purge`: the CLI twin of the retention job.

`hotline recordings purge` runs exactly what the worker runs every hour: the audio of
recordings older than HOTLINE_RETENTION_DAYS is deleted from the store, with an audit event on
the ticket; transcripts and tickets stay. `--dry-run` lists what would go.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from hotline.cli import parse_now
from hotline.runtime import runtime
from hotline.wiring_production import purge_recordings


# Joins `hotline recordings` (with `sweep` and `retry`, see cli_transcribe) in cli.py.
@click.command("purge")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    default=None,
    help="Keep this many days (default: HOTLINE_RETENTION_DAYS; 0 keeps everything).",
)
@click.option("--dry-run", is_flag=True, help="Only say which recordings would be purged.")
@click.option(
    "--now", "now_text", hidden=True, help="Pretend it is this time (ISO 8601 with offset)."
)
@with_appcontext
def purge_command(days: int | None, dry_run: bool, now_text: str | None) -> None:
    """Delete the audio of recordings older than the retention period (batches of 500)."""
    rt = runtime(current_app)
    keep = rt.settings.retention_days if days is None else days
    if keep <= 0:
        click.echo("Retention is off (0 days): nothing purged.")
        return
    now = parse_now(now_text)
    report = purge_recordings(rt.sessions, rt.audio_store, now=now, days=keep, dry_run=dry_run)
    verb = "Would purge" if dry_run else "Purged"
    cutoff = report.cutoff.isoformat(timespec="seconds")
    click.echo(f"{verb} {report.count} recording(s) made before {cutoff}.")
    if report.purged:
        click.echo("Recording ids: " + ", ".join(str(i) for i in report.purged))
    if report.failed:
        click.echo(f"Could not delete {len(report.failed)}: " + ", ".join(map(str, report.failed)))
        raise SystemExit(1)
