"""The officers' desk and the JSON API: Flask-Login, CSRF, Babel, security headers, blueprints."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

import web
from hotline.runtime import Runtime
from web.deps import WebDeps

# Blueprints whose POSTs come from Twilio (signed) or carry a bearer token, never a browser
# form: CSRF tokens do not apply to them.
CSRF_EXEMPT_BLUEPRINTS = ("ivr", "ivr_outbound", "api")

# Pages of the desk: these get the browser security headers (CSP and friends).
_HTML_BLUEPRINTS = {"auth", "tickets", "queue", "reports", "settings", "inbox", "ui"}

_CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def init_app(app: Flask, rt: Runtime) -> None:
    """Register the web blueprints with login, CSRF protection and translations."""
    from web import api, auth, errors, formatting, templating
    from web.views import inbox, queue, reports, settings, tickets

    app.config.setdefault("BABEL_DEFAULT_LOCALE", "vi")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", rt.settings.timezone)
    app.config.setdefault(
        "BABEL_TRANSLATION_DIRECTORIES", str(Path(web.__file__).parent / "translations")
    )
    # An officer may keep a ticket open for a long correction: a token lasts a working day.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", int(timedelta(hours=12).total_seconds()))
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=12))
    Babel(app, locale_selector=auth.select_locale)

    app.extensions["web"] = WebDeps(
        audio_store=rt.audio_store,
        services=rt.services,
        timezone=rt.settings.timezone,
        twilio_configured=rt.settings.twilio_configured,
        clock=rt.clock,
    )
    csrf = CSRFProtect(app)
    auth.init_app(app)
    formatting.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    for module in (tickets, queue, reports, settings, inbox):
        app.register_blueprint(module.bp)
    app.register_blueprint(templating.ui)
    app.register_blueprint(api.bp)
    # The IVR's blueprints are registered before this one (create_app's order).
    for name in CSRF_EXEMPT_BLUEPRINTS:
        blueprint = app.blueprints.get(name)
        if blueprint is not None:
            csrf.exempt(blueprint)

    @app.after_request
    def security_headers(response: Response) -> Response:
        if request.blueprint in _HTML_BLUEPRINTS:
            _set_default(response, "Content-Security-Policy", _CSP)
            _set_default(response, "X-Frame-Options", "DENY")
            _set_default(response, "Referrer-Policy", "same-origin")
        _set_default(response, "X-Content-Type-Options", "nosniff")
        return response


def _set_default(response: Response, header: str, value: Any) -> None:
    if header not in response.headers:
        response.headers[header] = value
