"""Settings for admins: departments, topics, office hours, public holidays, users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from storage.models import Department, Holiday, OfficeHours, Role, Topic, User
from web import accounts, admin
from web.access import Can, me, requires
from web.actions import run_action
from web.deps import current_time
from web.forms import (
    WEEKDAYS,
    ActionForm,
    DepartmentForm,
    Form,
    HolidayForm,
    OfficeHoursForm,
    TopicForm,
    UserForm,
    department_choices,
)
from web.templating import require_login

bp = Blueprint("settings", __name__, url_prefix="/settings")
require_login(bp)


@bp.before_request
@requires(Can.ADMINISTER)
def admins_only() -> None:
    """Every settings page is for admins."""


@bp.get("/")
def index() -> Response:
    """Open the first settings page."""
    return redirect(url_for("settings.departments"))


def _get(model: Any, item_id: int) -> Any:
    found = g.db.get(model, item_id)
    if found is None:
        abort(404)
    return found


def _form_page(
    form: Form,
    template: str,
    *,
    save: Callable[[], object],
    success: str,
    back: str,
    refuse: Callable[[], str | None] = lambda: None,
    **context: Any,
) -> Any:
    """Every settings form's flow: show it; on a valid post save, then go back to `back`.

    `refuse` may stop a valid form before saving: it returns a message for the page, or ""
    when it marked the fields that say why; None lets the save go on.
    """

    def page(status: int = 200, error: str | None = None) -> Any:
        return render_template(template, form=form, error=error, back=back, **context), status

    if not form.is_submitted():
        return page()
    if not form.validate():
        return page(422)
    refused = refuse()
    if refused is not None:
        return page(422, refused or None)
    return run_action(
        save,
        success=success,
        done=lambda: redirect(url_for(back), 303),
        failed=lambda msg: page(422, msg),
    )


# --- departments ---------------------------------------------------------------------------------


@bp.route("/departments", methods=["GET", "POST"])
def departments() -> Any:
    """List the departments; add one."""
    form = DepartmentForm()
    return _form_page(
        form,
        "settings/departments.html",
        rows=g.db.scalars(select(Department).order_by(Department.name_vi)).all(),
        save=lambda: admin.save_department(
            g.db, department=None, **_department_fields(form), by=me(), now=current_time()
        ),
        success=_("Department added."),
        back="settings.departments",
    )


@bp.route("/departments/<int:item_id>", methods=["GET", "POST"])
def department(item_id: int) -> Any:
    """Change a department."""
    row = _get(Department, item_id)
    form = DepartmentForm(obj=row)
    return _form_page(
        form,
        "settings/edit.html",
        title=_("Department %(c)s", c=row.code),
        back="settings.departments",
        fields=["code", "name_vi", "name_en", "email", "phone", "active"],
        save=lambda: admin.save_department(
            g.db, department=row, **_department_fields(form), by=me(), now=current_time()
        ),
        success=_("Department saved."),
    )


def _department_fields(form: DepartmentForm) -> dict[str, Any]:
    return {
        "code": form.code.data or "",
        "name_vi": form.name_vi.data or "",
        "name_en": form.name_en.data or "",
        "email": form.email.data,
        "phone": form.phone.data,
        "active": bool(form.active.data),
    }


# --- topics --------------------------------------------------------------------------------------


@bp.route("/topics", methods=["GET", "POST"])
def topics() -> Any:
    """List the topics (keypad order); add one."""
    form = TopicForm()
    form.department.choices = department_choices(g.db)
    return _form_page(
        form,
        "settings/topics.html",
        rows=g.db.scalars(select(Topic).order_by(Topic.sort_order, Topic.name_vi)).all(),
        save=lambda: admin.save_topic(
            g.db, topic=None, **_topic_fields(form), by=me(), now=current_time()
        ),
        success=_("Topic added."),
        back="settings.topics",
    )


@bp.route("/topics/<int:item_id>", methods=["GET", "POST"])
def topic(item_id: int) -> Any:
    """Change a topic: keypad digit, prompt, keywords, SLA."""
    row = _get(Topic, item_id)
    form = TopicForm(obj=row, department=row.department_id)
    form.department.choices = department_choices(g.db, active_only=False)
    if not form.is_submitted():
        form.keywords.data = ", ".join(str(k) for k in row.keywords or ())
    return _form_page(
        form,
        "settings/edit.html",
        title=_("Topic %(c)s", c=row.code),
        back="settings.topics",
        fields=[
            "code",
            "digit",
            "name_vi",
            "name_en",
            "department",
            "sla_hours",
            "prompt_vi",
            "prompt_en",
            "keywords",
            "active",
        ],
        save=lambda: admin.save_topic(
            g.db, topic=row, **_topic_fields(form), by=me(), now=current_time()
        ),
        success=_("Topic saved."),
    )


def _topic_fields(form: TopicForm) -> dict[str, Any]:
    return {
        "code": form.code.data or "",
        "digit": form.digit.data,
        "name_vi": form.name_vi.data or "",
        "name_en": form.name_en.data or "",
        "prompt_vi": form.prompt_vi.data or "",
        "prompt_en": form.prompt_en.data or "",
        "keywords": admin.parse_keywords(form.keywords.data or ""),
        "department_id": int(form.department.data),
        "sla_hours": float(form.sla_hours.data or 0),
        "active": bool(form.active.data),
    }


# --- office hours and holidays -------------------------------------------------------------------


@bp.route("/hours", methods=["GET", "POST"])
def hours() -> Any:
    """Show the weekly opening hours; add a period."""
    form = OfficeHoursForm()
    return _form_page(
        form,
        "settings/hours.html",
        rows=g.db.scalars(
            select(OfficeHours).order_by(OfficeHours.weekday, OfficeHours.opens_at)
        ).all(),
        weekdays=WEEKDAYS,
        action_form=ActionForm(),
        save=lambda: admin.add_office_hours(
            g.db,
            weekday=int(form.weekday.data),
            opens_at=form.opens_at.data,
            closes_at=form.closes_at.data,
            by=me(),
            now=current_time(),
        ),
        success=_("Opening period added."),
        back="settings.hours",
    )


@bp.post("/hours/<int:item_id>/delete")
def delete_hours(item_id: int) -> Any:
    """Remove an opening period."""
    return run_action(
        lambda: admin.delete_office_hours(g.db, period_id=item_id, by=me(), now=current_time()),
        success=_("Opening period removed."),
        done=lambda: redirect(url_for("settings.hours"), 303),
        failed=lambda msg: _flash_back(msg, "settings.hours"),
    )


@bp.route("/holidays", methods=["GET", "POST"])
def holidays() -> Any:
    """List the public holidays; add one."""
    form = HolidayForm()
    return _form_page(
        form,
        "settings/holidays.html",
        rows=g.db.scalars(select(Holiday).order_by(Holiday.day)).all(),
        action_form=ActionForm(),
        save=lambda: admin.add_holiday(
            g.db,
            day=form.day.data,
            name_vi=form.name_vi.data or "",
            name_en=form.name_en.data or "",
            is_working_day=bool(form.is_working_day.data),
            by=me(),
            now=current_time(),
        ),
        success=_("Holiday added."),
        back="settings.holidays",
    )


@bp.post("/holidays/<int:item_id>/delete")
def delete_holiday(item_id: int) -> Any:
    """Remove a holiday."""
    return run_action(
        lambda: admin.delete_holiday(g.db, holiday_id=item_id, by=me(), now=current_time()),
        success=_("Holiday removed."),
        done=lambda: redirect(url_for("settings.holidays"), 303),
        failed=lambda msg: _flash_back(msg, "settings.holidays"),
    )


def _flash_back(message: str, endpoint: str) -> Response:
    flash(message, "error")
    return redirect(url_for(endpoint), 303)


# --- users ---------------------------------------------------------------------------------------


@bp.route("/users", methods=["GET", "POST"])
def users() -> Any:
    """List the users; create one."""
    form = UserForm()
    form.departments.choices = department_choices(g.db)

    def needs_password() -> str | None:
        if form.password.data:
            return None
        form.password.errors = [_("A new user needs a password.")]
        return ""

    return _form_page(
        form,
        "settings/users.html",
        rows=g.db.scalars(select(User).order_by(User.active.desc(), User.name)).all(),
        now=current_time(),
        refuse=needs_password,
        save=lambda: accounts.create_user(
            g.db,
            email=form.email.data or "",
            name=form.name.data or "",
            role=Role(form.role.data),
            password=form.password.data or "",
            department_ids=form.departments.data or [],
            phone=form.phone.data or None,
        ),
        success=_("User created."),
        back="settings.users",
    )


def _user_form(row: User, **kwargs: Any) -> UserForm:
    form = UserForm(
        obj=row, role=row.role.value, departments=[d.id for d in row.departments], **kwargs
    )
    del form.email  # the e-mail is the login: shown, not changed here
    form.departments.choices = department_choices(g.db, active_only=False)
    return form


@bp.route("/users/<int:item_id>", methods=["GET", "POST"])
def user(item_id: int) -> Any:
    """Change a user's role, departments, phone, access and password."""
    row: User = _get(User, item_id)
    form = _user_form(row)

    def own_admin_access() -> str | None:
        if row.id == me().id and (form.role.data != Role.ADMIN.value or not form.active.data):
            return str(_("You cannot take away your own admin access."))
        return None

    def save() -> None:
        accounts.update_user(
            g.db,
            row,
            name=form.name.data or "",
            role=Role(form.role.data),
            department_ids=form.departments.data or [],
            phone=form.phone.data or None,
            active=bool(form.active.data),
        )
        if form.password.data:
            accounts.set_password(g.db, row, form.password.data)

    return _form_page(
        form,
        "settings/user.html",
        row=row,
        token=None,
        action_form=ActionForm(),
        now=current_time(),
        refuse=own_admin_access,
        save=save,
        success=_("User saved."),
        back="settings.users",
    )


@bp.post("/users/<int:item_id>/unlock")
def unlock_user(item_id: int) -> Any:
    """Lift a login lock."""
    row = _get(User, item_id)
    return run_action(
        lambda: accounts.unlock(g.db, row),
        success=_("The account is unlocked."),
        done=lambda: redirect(url_for("settings.user", item_id=row.id), 303),
        failed=lambda msg: _flash_back(msg, "settings.users"),
    )


@bp.post("/users/<int:item_id>/token")
def new_token(item_id: int) -> Any:
    """Issue a new API token and show it once (it is never stored, only its hash)."""
    row: User = _get(User, item_id)
    token = accounts.issue_api_token(g.db, row)
    g.db.commit()
    # Shown in this response, not flashed: a flash would sit in the session cookie.
    form = _user_form(row, formdata=None)
    return render_template(
        "settings/user.html",
        row=row,
        form=form,
        error=None,
        token=token,
        action_form=ActionForm(),
        now=current_time(),
    )
