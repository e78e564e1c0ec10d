"""The ticket list (with live updates) and the ticket page with its actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    g,
    get_template_attribute,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from storage.audio_store import AudioStoreError
from storage.models import Area, Department, Ticket, TicketStatus, Topic, Transcript
from tickets import services
from web.access import Can, can_see, me, recording_of, requires, ticket_or_404
from web.actions import run_action
from web.deps import current_time, deps
from web.formatting import office_tz
from web.forms import (
    NoteForm,
    ReassignForm,
    ResolveForm,
    TopicChangeForm,
    TranscriptForm,
    department_choices,
    topic_choices,
)
from web.listing import (
    earlier_tickets,
    is_overdue,
    page_of,
    parse_filters,
    parse_page,
    ticket_query,
)
from web.templating import require_login

bp = Blueprint("tickets", __name__, url_prefix="/tickets")
require_login(bp)

PER_PAGE = 50
# The live update sends at most this many new rows; the page says how many more there are.
MAX_NEW_ROWS = 50


@bp.route("/")
@requires(Can.VIEW_TICKETS)
def index() -> Any:
    """List the tickets the user may see, filtered and searched."""
    filters = parse_filters(request.args)
    page, _per_page, page_errors = parse_page(request.args, default_per_page=PER_PAGE)
    now = current_time()
    stmt = ticket_query(me(), filters, now=now, tz=office_tz())
    result = page_of(g.db, stmt, page=page, per_page=PER_PAGE)
    latest_id = g.db.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1)) or 0
    return render_template(
        "tickets/index.html",
        filters=filters,
        errors=[*filters.errors, *page_errors],
        result=result,
        latest_id=latest_id,
        statuses=list(TicketStatus),
        departments=g.db.scalars(select(Department).order_by(Department.name_vi)).all(),
        topics=g.db.scalars(select(Topic).order_by(Topic.sort_order)).all(),
        areas=g.db.scalars(select(Area).order_by(Area.name)).all(),
        now=now,
        is_overdue=is_overdue,
    )


@bp.route("/updates")
@requires(Can.VIEW_TICKETS)
def updates() -> Any:
    """Return the rows of tickets newer than `after` that match the list's filters (JSON)."""
    after = request.args.get("after", "0").strip()
    filters = parse_filters(request.args)
    if not after.isdigit() or filters.errors:
        message = "; ".join(filters.errors) or _("after must be a ticket id")
        return jsonify({"error": message}), 400
    now = current_time()
    stmt = ticket_query(me(), filters, now=now, tz=office_tz()).where(Ticket.id > int(after))
    fresh = page_of(g.db, stmt, page=1, per_page=MAX_NEW_ROWS)
    row = get_template_attribute("tickets/_row.html", "ticket_row")
    return jsonify(
        {
            "latest_id": max([int(after), *(t.id for t in fresh.items)]),
            "count": fresh.total,
            "rows": [str(row(t, now, is_overdue(t, now))) for t in fresh.items],
        }
    )


@bp.route("/<number>")
@requires(Can.VIEW_TICKETS)
def show(number: str) -> Any:
    """Show one ticket: caller, recording and transcript, work on it, its history."""
    ticket = ticket_or_404(g.db, me(), number)
    return render_ticket(ticket)


def render_ticket(ticket: Ticket, status: int = 200, **given: Any) -> Any:
    """Render the ticket page; a form that failed is passed in to show its errors."""
    db = g.db
    reassign_form = given.get("reassign_form") or ReassignForm(
        formdata=None, department=ticket.department_id
    )
    reassign_form.department.choices = department_choices(db)
    topic_form = given.get("topic_form") or TopicChangeForm(formdata=None, topic=ticket.topic_id)
    topic_form.topic.choices = topic_choices(db)
    now = current_time()
    return (
        render_template(
            "tickets/show.html",
            ticket=ticket,
            now=now,
            overdue=is_overdue(ticket, now),
            earlier=earlier_tickets(db, me(), ticket),
            transcript_form=given.get("transcript_form") or TranscriptForm(formdata=None),
            note_form=given.get("note_form") or NoteForm(formdata=None),
            reassign_form=reassign_form,
            topic_form=topic_form,
            resolve_form=given.get("resolve_form") or ResolveForm(formdata=None),
            open_form=given.get("open_form", ""),
            action_error=given.get("action_error"),
        ),
        status,
    )


@bp.route("/<number>/recordings/<int:recording_id>/audio")
@requires(Can.VIEW_TICKETS)
def audio(number: str, recording_id: int) -> Response:
    """Stream a recording; HTTP Range is honoured, so the player can seek."""
    ticket = ticket_or_404(g.db, me(), number)
    return send_recording(ticket, recording_id)


def send_recording(ticket: Ticket, recording_id: int | None) -> Response:
    """Answer with the recording's audio (404 if it is not stored)."""
    recording = recording_of(ticket, recording_id)
    if recording is None or not recording.audio_key:
        abort(404)
    try:
        path = deps().audio_store.path(recording.audio_key)
    except AudioStoreError:
        abort(404)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=recording.content_type or "audio/wav",
        conditional=True,  # 206 Partial Content for Range requests: the player can seek
        etag=recording.audio_sha256 or True,
        max_age=0,
        download_name=f"{ticket.number}-{recording.id}{path.suffix}",
    )
    # Recordings are personal data: never kept in a shared cache.
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response


def back_to(ticket: Ticket) -> Response:
    """Redirect to the ticket page, or to the list if the user can no longer see it."""
    if can_see(me(), ticket):
        return redirect(url_for("tickets.show", number=ticket.number), 303)
    return redirect(url_for("tickets.index"), 303)


# --- actions: parse, call one service, commit, 303 back with a message ---------------------------


@bp.post("/<number>/transcript")
@requires(Can.HANDLE_TICKETS)
def correct_transcript(number: str) -> Any:
    """Save an officer's correction of the transcript (the machine's text is kept)."""
    ticket = ticket_or_404(g.db, me(), number)
    form = TranscriptForm()

    def failed(message: str | None = None) -> Any:
        return render_ticket(
            ticket, 422, transcript_form=form, open_form="transcript", action_error=message
        )

    if not form.validate_on_submit():
        return failed()
    transcript = transcript_on(ticket, int(form.transcript_id.data or 0))
    if transcript is None:
        return failed(_("This transcript is not on the ticket."))

    def done() -> Response:
        # Routing reads the corrected text: area, callback number and suggestion follow it.
        deps().enqueue("route_ticket", ticket.id)
        return back_to(ticket)

    return run_action(
        lambda: services.correct_transcript(
            g.db, transcript=transcript, user=me(), text=form.text.data or "", now=current_time()
        ),
        success=_("The corrected transcript is saved; the original is kept."),
        done=done,
        failed=failed,
    )


@bp.post("/<number>/notes")
@requires(Can.ADD_NOTES)
def add_note(number: str) -> Any:
    """Add a note to the ticket."""
    ticket = ticket_or_404(g.db, me(), number)
    form = NoteForm()
    if not form.validate_on_submit():
        return render_ticket(ticket, 422, note_form=form)
    return run_action(
        lambda: services.add_note(
            g.db, ticket=ticket, user=me(), body=form.body.data or "", now=current_time()
        ),
        success=_("Note added."),
        done=lambda: back_to(ticket),
        failed=lambda msg: render_ticket(ticket, 422, note_form=form, action_error=msg),
    )


def _form_action(
    ticket: Ticket, form: Any, name: str, *, save: Callable[[], object], success: str
) -> Any:
    """One of the ticket page's forms: save and go back, or show the page again with that
    form open and its errors (422)."""

    def failed(message: str | None = None) -> Any:
        return render_ticket(
            ticket, 422, open_form=name, action_error=message, **{f"{name}_form": form}
        )

    if not form.validate_on_submit():
        return failed()
    return run_action(save, success=success, done=lambda: back_to(ticket), failed=failed)


@bp.post("/<number>/reassign")
@requires(Can.HANDLE_TICKETS)
def reassign(number: str) -> Any:
    """Send the ticket to another department."""
    ticket = ticket_or_404(g.db, me(), number)
    form = ReassignForm()
    form.department.choices = department_choices(g.db)
    return _form_action(
        ticket,
        form,
        "reassign",
        save=lambda: services.reassign(
            g.db,
            ticket=ticket,
            department_id=int(form.department.data),
            by=me(),
            reason=form.reason.data or "",
            now=current_time(),
        ),
        success=_("The ticket was sent to another department."),
    )


@bp.post("/<number>/topic")
@requires(Can.HANDLE_TICKETS)
def change_topic(number: str) -> Any:
    """Change the ticket's topic (its department and due time follow)."""
    ticket = ticket_or_404(g.db, me(), number)
    form = TopicChangeForm()
    form.topic.choices = topic_choices(g.db)
    return _form_action(
        ticket,
        form,
        "topic",
        save=lambda: services.change_topic(
            g.db,
            ticket=ticket,
            topic_id=int(form.topic.data),
            by=me(),
            reason=form.reason.data or "",
            now=current_time(),
            calendar=deps().calendar(g.db),
        ),
        success=_("The topic was changed."),
    )


@bp.post("/<number>/resolve")
@requires(Can.HANDLE_TICKETS)
def resolve(number: str) -> Any:
    """Close the ticket with a resolution note."""
    ticket = ticket_or_404(g.db, me(), number)
    form = ResolveForm()
    return _form_action(
        ticket,
        form,
        "resolve",
        save=lambda: services.resolve(
            g.db,
            ticket=ticket,
            user=me(),
            note=form.note.data or "",
            now=current_time(),
            policy=deps().policy(),
        ),
        success=_("The ticket is resolved."),
    )


def transcript_on(ticket: Ticket, transcript_id: int) -> Transcript | None:
    """Return the ticket's transcript with this id (a form names it)."""
    for recording in ticket.recordings:
        if recording.transcript is not None and recording.transcript.id == transcript_id:
            return recording.transcript
    return None
