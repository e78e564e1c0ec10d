"""`hotline simulate-call`: plays Twilio's role against a running hotline (issue 2)."""

from __future__ import annotations

import click


@click.command("simulate-call")
def simulate_call_command() -> None:
    """Place a simulated call."""
    raise click.ClickException("not built yet")
