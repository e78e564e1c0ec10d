"""The callback queue: due-ordered work, claim or release, call back, log the outcome."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from storage.models import AttemptOutcome, Ticket
from tickets import services
from web.access import Can, me, requires, ticket_or_404
from web.actions import run_action
from web.auth import safe_next
from web.deps import current_time, deps
from web.forms import ActionForm, AttemptForm
from web.listing import is_overdue
from web.templating import require_login

bp = Blueprint("queue", __name__, url_prefix="/queue")
require_login(bp)

QUEUE_LIMIT = 100


@bp.get("/")
@requires(Can.WORK_CALLBACKS)
def index() -> Any:
    """Show the callbacks to make, most urgent first; after an outcome, offer the next one."""
    user = me()
    entries = services.callback_queue(g.db, user=user, now=current_time(), limit=QUEUE_LIMIT)
    done = request.args.get("done", "")
    offer = None
    if done:
        offer = next(
            (
                e
                for e in entries
                if e.ticket.number != done and (e.in_pool or e.ticket.owner_id == user.id)
            ),
            None,
        )
    return render_template(
        "queue/index.html", entries=entries, offer=offer, done=done, action_form=ActionForm()
    )


@bp.get("/<number>")
@requires(Can.WORK_CALLBACKS)
def item(number: str) -> Any:
    """Show one callback: who to call, what they asked, the call button and the outcome form."""
    ticket = ticket_or_404(g.db, me(), number)
    return render_item(ticket)


def render_item(
    ticket: Ticket, status: int = 200, *, form: AttemptForm | None = None, error: str | None = None
) -> Any:
    """Render the callback page, with a failed outcome form if there is one."""
    user = me()
    dialer = deps().dialer()
    now = current_time()
    return (
        render_template(
            "queue/item.html",
            ticket=ticket,
            now=now,
            overdue=is_overdue(ticket, now),
            form=form or AttemptForm(formdata=None),
            action_form=ActionForm(),
            click_to_call=dialer is not None,
            staff_phone=user.phone,
            pending_dial=next(
                (
                    a
                    for a in reversed(ticket.attempts)
                    if a.outcome is AttemptOutcome.IN_PROGRESS and a.user_id == user.id
                ),
                None,
            ),
            action_error=error,
        ),
        status,
    )


@bp.post("/<number>/claim")
@requires(Can.WORK_CALLBACKS)
def claim(number: str) -> Any:
    """Take this callback on oneself."""
    ticket = ticket_or_404(g.db, me(), number)
    return run_action(
        lambda: services.claim(g.db, ticket=ticket, user=me(), now=current_time()),
        success=_("Ticket %(n)s is yours to call back.", n=ticket.number),
        done=lambda: _back(ticket),
        failed=lambda msg: render_item(ticket, 409, error=msg),
    )


@bp.post("/<number>/release")
@requires(Can.WORK_CALLBACKS)
def release(number: str) -> Any:
    """Give the callback back to the department's pool."""
    ticket = ticket_or_404(g.db, me(), number)
    return run_action(
        lambda: services.release(g.db, ticket=ticket, user=me(), now=current_time()),
        success=_("Ticket %(n)s is back in the department's pool.", n=ticket.number),
        done=lambda: _back(ticket),
        failed=lambda msg: render_item(ticket, 409, error=msg),
    )


@bp.post("/<number>/call")
@requires(Can.WORK_CALLBACKS)
def call(number: str) -> Any:
    """Ring the user's phone through the hotline, then connect the caller (click-to-call)."""
    ticket = ticket_or_404(g.db, me(), number)
    dialer = deps().dialer()
    if dialer is None:
        return render_item(
            ticket, 409, error=_("Click-to-call is not set up here; dial the number by hand.")
        )
    return run_action(
        lambda: services.start_click_to_call(
            g.db, ticket=ticket, user=me(), dialer=dialer, now=current_time()
        ),
        success=_("Your phone will ring now; answer it to be connected to the caller."),
        done=lambda: redirect(url_for("queue.item", number=ticket.number), 303),
        failed=lambda msg: render_item(ticket, 409, error=msg),
    )


@bp.post("/<number>/attempt")
@requires(Can.WORK_CALLBACKS)
def attempt(number: str) -> Any:
    """Log the outcome of a callback, then offer the next item in the queue."""
    ticket = ticket_or_404(g.db, me(), number)
    form = AttemptForm()
    if not form.validate_on_submit():
        return render_item(ticket, 422, form=form)
    return run_action(
        lambda: services.log_attempt(
            g.db,
            ticket=ticket,
            user=me(),
            outcome=AttemptOutcome(form.outcome.data),
            note=form.note.data or "",
            now=current_time(),
            calendar=deps().calendar(g.db),
            policy=deps().policy(),
        ),
        success=_("The outcome of the call to ticket %(n)s is saved.", n=ticket.number),
        done=lambda: redirect(url_for("queue.index", done=ticket.number), 303),
        failed=lambda msg: render_item(ticket, 422, form=form, error=msg),
    )


def _back(ticket: Ticket) -> Response:
    default = url_for("queue.item", number=ticket.number)
    return redirect(safe_next(request.form.get("next"), default), 303)
