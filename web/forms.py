"""The forms of the desk (Flask-WTF: every one carries a CSRF token).

Messages are lazy translations, so a form built at import shows the request's language.
Choices that come from the database are filled by the view with the `*_choices` helpers.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from flask_babel import get_translations
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FloatField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from storage.models import AttemptOutcome, Department, Role, Topic
from web.formatting import display_name

try:  # WTForms 3.3 names choices; older releases take (value, label) tuples
    from wtforms import SelectChoice as _Choice
except ImportError:  # pragma: no cover
    _Choice = None


def choice(value: Any, label: Any) -> Any:
    """Return one option of a select field."""
    return _Choice(value, label) if _Choice is not None else (value, label)


REQUIRED = _l("This field is required.")

# WTForms' own messages, translated in our catalog (WTForms ships no Vietnamese); listed here
# so that extraction keeps them in web/translations.
WTFORMS_MESSAGES = (
    _l("Not a valid choice."),
    _l("Invalid Choice: could not coerce."),
    _l("Invalid choice(s): one or more data inputs could not be coerced."),
    _l("'%(value)s' is not a valid choice for this field."),
    _l("'%(value)s' are not valid choices for this field."),
    _l("Not a valid float value."),
    _l("Not a valid integer value."),
    _l("Not a valid date value."),
    _l("Not a valid time value."),
    _l("Invalid input."),
)


class _Translations:
    """WTForms' messages through the desk's own catalog, in the request's language."""

    def gettext(self, string: str) -> str:
        return str(get_translations().ugettext(string))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        # Vietnamese has one form; each English form is its own entry in the catalog.
        return self.gettext(singular if n == 1 else plural)


class Form(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type hints
    """The base of every form here: CSRF from Flask-WTF, messages from our catalog."""

    class Meta:
        def get_translations(self, form: Any) -> _Translations:
            return _Translations()

        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
            # Every text field drops control characters (a NUL byte above all, which
            # PostgreSQL refuses in text): typed or pasted, they are never meant.
            filters = [*options.get("filters", ()), *unbound_field.kwargs.get("filters", ())]
            unbound_field.kwargs.pop("filters", None)
            options["filters"] = [*filters, strip_control_characters]
            return unbound_field.bind(form=form, **options)


def strip_control_characters(value: Any) -> Any:
    """Remove control characters from text, keeping tabs and line breaks."""
    if not isinstance(value, str):
        return value
    return "".join(ch for ch in value if ch in "\t\n\r" or unicodedata.category(ch) != "Cc")


def _required() -> DataRequired:
    return DataRequired(message=REQUIRED)


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=_l("At most %(max)d characters.", max=maximum))


class LoginForm(Form):
    email = EmailField(_l("E-mail"), validators=[_required(), _length(200)])
    password = PasswordField(_l("Password"), validators=[_required(), _length(200)])


class TranscriptForm(Form):
    transcript_id = HiddenField(validators=[_required(), Regexp(r"^\d+$")])
    text = TextAreaField(_l("Corrected transcript"), validators=[_required(), _length(20000)])


class NoteForm(Form):
    body = TextAreaField(_l("New note"), validators=[_required(), _length(5000)])


class ReassignForm(Form):
    department = SelectField(
        _l("Department"), coerce=int, validators=[InputRequired(message=REQUIRED)]
    )
    reason = StringField(_l("Reason"), validators=[_required(), _length(500)])


class TopicChangeForm(Form):
    topic = SelectField(_l("Topic"), coerce=int, validators=[InputRequired(message=REQUIRED)])
    reason = StringField(_l("Reason"), validators=[_required(), _length(500)])


class ResolveForm(Form):
    note = TextAreaField(_l("Resolution note"), validators=[_required(), _length(5000)])


class ActionForm(Form):
    """A button that changes something (claim, release, call back): only the CSRF token."""


OUTCOME_LABELS: dict[AttemptOutcome, Any] = {
    AttemptOutcome.REACHED_RESOLVED: _l("Reached – question answered"),
    AttemptOutcome.REACHED_FOLLOW_UP: _l("Reached – follow-up needed"),
    AttemptOutcome.NO_ANSWER: _l("No answer"),
    AttemptOutcome.BUSY: _l("Busy"),
    AttemptOutcome.WRONG_NUMBER: _l("Wrong number"),
    AttemptOutcome.LEFT_MESSAGE: _l("Left a message"),
    AttemptOutcome.IN_PROGRESS: _l("Call in progress"),
}


class AttemptForm(Form):
    outcome = SelectField(
        _l("Outcome"),
        choices=[
            choice(o.value, label)
            for o, label in OUTCOME_LABELS.items()
            if o is not AttemptOutcome.IN_PROGRESS
        ],
        validators=[_required()],
    )
    # No Optional(): it would stop the chain before validate_note runs on an empty note.
    note = TextAreaField(_l("Note"), validators=[_length(5000)])

    def validate_note(self, field: Any) -> None:
        # Whoever reached the caller writes down what was said; a no-answer needs no note.
        reached = self.outcome.data in (
            AttemptOutcome.REACHED_RESOLVED.value,
            AttemptOutcome.REACHED_FOLLOW_UP.value,
        )
        if reached and not (field.data or "").strip():
            raise ValidationError(_l("Write what was said when the caller was reached."))


# --- settings -----------------------------------------------------------------------------------

# A plain shape check (WTForms' Email() needs the email_validator package).
_EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Not an e-mail address."))
_CODE = Regexp(r"^[a-z0-9][a-z0-9\-]*$", message=_l("Lower-case letters, digits and dashes."))


class DepartmentForm(Form):
    code = StringField(_l("Code"), validators=[_required(), _length(40), _CODE])
    name_vi = StringField(_l("Name (Vietnamese)"), validators=[_required(), _length(200)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), _length(200)])
    email = StringField(
        _l("E-mail"),
        validators=[Optional(), _length(200), _EMAIL],
    )
    phone = StringField(_l("Phone"), validators=[Optional(), _length(32)])
    active = BooleanField(_l("Active"), default=True)


class TopicForm(Form):
    code = StringField(_l("Code"), validators=[_required(), _length(40), _CODE])
    digit = StringField(
        _l("Keypad digit"),
        validators=[Optional(), Regexp(r"^[0-9]$", message=_l("One digit, 0 to 9."))],
    )
    name_vi = StringField(_l("Name (Vietnamese)"), validators=[_required(), _length(200)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), _length(200)])
    prompt_vi = TextAreaField(_l("Menu prompt (Vietnamese)"), validators=[_length(1000)])
    prompt_en = TextAreaField(_l("Menu prompt (English)"), validators=[_length(1000)])
    keywords = TextAreaField(
        _l("Keywords (comma-separated)"), validators=[Optional(), _length(4000)]
    )
    department = SelectField(
        _l("Department"), coerce=int, validators=[InputRequired(message=REQUIRED)]
    )
    sla_hours = FloatField(
        _l("Callback within (working hours)"),
        validators=[
            InputRequired(message=REQUIRED),
            NumberRange(min=0.25, max=240, message=_l("Between 0.25 and 240 hours.")),
        ],
    )
    active = BooleanField(_l("Active"), default=True)


WEEKDAYS = {
    0: _l("Monday"),
    1: _l("Tuesday"),
    2: _l("Wednesday"),
    3: _l("Thursday"),
    4: _l("Friday"),
    5: _l("Saturday"),
    6: _l("Sunday"),
}


class OfficeHoursForm(Form):
    weekday = SelectField(
        _l("Weekday"), coerce=int, choices=[choice(k, v) for k, v in WEEKDAYS.items()]
    )
    opens_at = TimeField(_l("Opens"), validators=[InputRequired(message=REQUIRED)])
    closes_at = TimeField(_l("Closes"), validators=[InputRequired(message=REQUIRED)])

    def validate_closes_at(self, field: Any) -> None:
        if self.opens_at.data and field.data and field.data <= self.opens_at.data:
            raise ValidationError(_l("Closing time must be after opening time."))


class HolidayForm(Form):
    day = DateField(
        _l("Day"),
        format=["%d/%m/%Y", "%Y-%m-%d"],
        validators=[InputRequired(message=REQUIRED)],
    )
    name_vi = StringField(_l("Name (Vietnamese)"), validators=[_required(), _length(200)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), _length(200)])
    is_working_day = BooleanField(_l("Swapped working day (office open)"))


ROLE_LABELS: dict[Role, Any] = {
    Role.ADMIN: _l("Administrator"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.OFFICER: _l("Officer"),
    Role.CALLBACK_STAFF: _l("Callback staff"),
}


class UserForm(Form):
    email = EmailField(
        _l("E-mail"),
        validators=[_required(), _length(200), _EMAIL],
    )
    name = StringField(_l("Name"), validators=[_required(), _length(200)])
    role = SelectField(
        _l("Role"), choices=[choice(r.value, label) for r, label in ROLE_LABELS.items()]
    )
    departments = SelectMultipleField(_l("Departments"), coerce=int)
    phone = StringField(_l("Own phone (for click-to-call)"), validators=[Optional(), _length(32)])
    active = BooleanField(_l("May sign in"), default=True)
    password = PasswordField(
        _l("New password"),
        validators=[
            Optional(),
            Length(min=8, max=200, message=_l("At least 8 characters.")),
        ],
    )


def department_choices(db: Session, *, active_only: bool = True) -> list[Any]:
    """Return (id, name) of the departments, for a select."""
    stmt = select(Department).order_by(Department.name_vi)
    if active_only:
        stmt = stmt.where(Department.active)
    return [choice(d.id, display_name(d)) for d in db.scalars(stmt)]


def topic_choices(db: Session, *, active_only: bool = True) -> list[Any]:
    """Return (id, name) of the topics, keypad order first."""
    stmt = select(Topic).order_by(Topic.sort_order, Topic.name_vi)
    if active_only:
        stmt = stmt.where(Topic.active)
    return [
        choice(t.id, f"{t.digit} · {display_name(t)}" if t.digit else display_name(t))
        for t in db.scalars(stmt)
    ]
