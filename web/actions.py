"""The one shape of every action a page posts: call one service, commit, 303 with a message.

A domain error (tickets.errors) rolls the transaction back, so nothing is changed, and the
page is shown again with the error in words an officer understands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, g

from web.messages import message_for


def run_action(
    do: Callable[[], object],
    *,
    success: str,
    done: Callable[[], Any],
    failed: Callable[[str], Any],
) -> Any:
    """Run `do` in the request's transaction; commit and flash `success`, or show the error."""
    try:
        do()
    except Exception as exc:
        message = message_for(exc)
        if message is None:
            raise
        g.db.rollback()
        return failed(message)
    g.db.commit()
    flash(success, "success")
    return done()
