"""The in-app notifications: new tickets, callbacks due soon or overdue, escalations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from storage.models import Notification, User
from tickets import services
from tickets.policy import INAPP
from tickets.queries import inbox
from web.access import me
from web.actions import run_action
from web.deps import current_time
from web.forms import ActionForm
from web.templating import require_login

bp = Blueprint("inbox", __name__, url_prefix="/notifications")
require_login(bp)


def unread_count(user: User) -> int:
    """Return how many in-app notifications the user has not read."""
    stmt = select(func.count()).where(
        Notification.user_id == user.id,
        Notification.channel == INAPP,
        Notification.read_at.is_(None),
    )
    return int(g.db.scalar(stmt) or 0)


@bp.get("/")
def index() -> Any:
    """List the user's notifications, newest first."""
    return render_template(
        "inbox/index.html", items=inbox(g.db, me(), limit=100), action_form=ActionForm()
    )


@bp.post("/read")
def mark_all_read() -> Any:
    """Mark every notification read."""
    return run_action(
        lambda: services.mark_read(g.db, user=me(), now=current_time()),
        success=_("All notifications are marked read."),
        done=lambda: redirect(url_for("inbox.index"), 303),
        failed=lambda msg: redirect(url_for("inbox.index"), 303),
    )
