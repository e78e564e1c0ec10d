"""Signing in and out, the session's user, and the language switch.

Flask-Login keeps `session_key(user)` in the signed, HTTP-only session cookie; a changed
password or a deactivated account ends the session on the next request. Failed logins are
counted per account and lock it for a while (settings login_max_failures, login_lock_minutes).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, login_user, logout_user
from werkzeug.wrappers import Response

from storage.models import Role, User
from web.accounts import LoginRefused, authenticate, session_key
from web.deps import current_time
from web.forms import LoginForm
from web.templating import login_required

LANGUAGES = ("vi", "en")

bp = Blueprint("auth", __name__)


class SignedIn(UserMixin):  # type: ignore[misc]  # Flask-Login ships no type hints
    """The user of this request, as Flask-Login wants it; `user` is the database row."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return session_key(self.user)

    @property
    def is_active(self) -> bool:
        return bool(self.user.active)

    def __getattr__(self, name: str) -> Any:
        # Templates read current_user.name, current_user.role ... straight from the row.
        return getattr(self.user, name)


def load_user(key: str) -> SignedIn | None:
    """Return the session's user if the stored key still matches the account."""
    user_id, _, _stamp = key.partition(":")
    if not user_id.isdigit():
        return None
    user = g.db.get(User, int(user_id))
    if user is None or not user.active or session_key(user) != key:
        return None
    return SignedIn(user)


def safe_next(target: str | None, default: str) -> str:
    """Return `target` if it is a path on this site, else `default` (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def home_for(user: User) -> str:
    """Return where a user lands: callback staff on the queue, everyone else on the tickets."""
    if user.role is Role.CALLBACK_STAFF:
        return url_for("queue.index")
    return url_for("tickets.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form; sign in."""
    form = LoginForm()
    if form.validate_on_submit():
        settings = current_app.config["HOTLINE_SETTINGS"]
        try:
            user = authenticate(
                g.db,
                email=form.email.data or "",
                password=form.password.data or "",
                now=current_time(),
                max_failures=settings.login_max_failures,
                lock_minutes=settings.login_lock_minutes,
            )
        except LoginRefused as exc:
            g.db.commit()  # keep the failure count
            if exc.locked_until is not None:
                from web.formatting import local_datetime

                message = _(
                    "Too many failed attempts: this account is locked until %(t)s.",
                    t=local_datetime(exc.locked_until),
                )
            else:
                message = _("Wrong e-mail or password.")
            return render_template("auth/login.html", form=form, error=message), 401
        g.db.commit()
        lang = session.get("lang")
        session.clear()  # nothing from before the login survives into the signed-in session
        if lang:
            session["lang"] = lang
        login_user(SignedIn(user))
        return redirect(safe_next(request.args.get("next"), home_for(user)), 303)
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """Sign out."""
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"), 303)


@bp.route("/language", methods=["POST"])
def language() -> Response:
    """Switch the interface language (Vietnamese or English) for this browser."""
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next"), url_for("auth.login")), 303)


@bp.route("/")
@login_required
def home() -> Response:
    """Send the user to their usual page."""
    from web.access import me

    return redirect(home_for(me()))


def select_locale() -> str:
    """Return the session's language; Vietnamese unless the user switched (API: English)."""
    if request.path.startswith("/api/"):
        return "en"  # integrators read the API's messages; its data stays Vietnamese
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "vi"


def init_app(app: Flask) -> None:
    """Set up Flask-Login and register the blueprint."""
    manager = LoginManager()
    manager.login_view = "auth.login"
    manager.login_message = _l("Please sign in to see this page.")
    manager.login_message_category = "info"
    # "basic", not "strong": officers on phones change networks (and IP) during the day.
    manager.session_protection = "basic"
    manager.user_loader(load_user)
    manager.init_app(app)
    app.register_blueprint(bp)
