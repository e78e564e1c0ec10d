"""What every page shares: the bundled assets, template globals, and the login gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import flask_login
from flask import Blueprint, Flask, current_app
from flask_babel import get_locale
from flask_login import current_user

from web.access import Can, allowed
from web.deps import current_time
from web.formatting import due_label
from web.labels import template_globals

F = TypeVar("F", bound=Callable[..., Any])

# The bundled CSS, JavaScript and icons (no CDN: offices may have no internet) and the templates.
ui = Blueprint(
    "ui",
    __name__,
    static_folder="static",
    static_url_path="/assets",
    template_folder="templates",
)


def require_login(bp: Blueprint) -> None:
    """Send anyone not signed in to the login page, for every view of `bp`."""

    @bp.before_request
    def _gate() -> Any:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
        return None


def login_required(view: F) -> F:
    """Send anyone not signed in to the login page, for one view."""
    return cast(F, flask_login.login_required(view))


def _unread() -> int:
    if not current_user.is_authenticated:
        return 0
    from web.views.inbox import unread_count

    return unread_count(current_user.user)


def _can(permission: str) -> bool:
    if not current_user.is_authenticated:
        return False
    return allowed(current_user.user, Can(permission))


def init_app(app: Flask) -> None:
    """Give templates the permission check, the clock and the language."""

    # Globals, not a context processor: imported macros (a table row) see them too.
    app.jinja_env.globals.update(
        can=_can, due_label=due_label, unread_notifications=_unread, **template_globals()
    )

    @app.context_processor
    def per_request() -> dict[str, Any]:
        settings = app.config["HOTLINE_SETTINGS"]
        return {
            "now": current_time(),
            "lang": str(get_locale() or "vi"),
            "twilio_configured": settings.twilio_configured,
        }
