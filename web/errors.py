"""Error pages for the desk and JSON errors for the API (one place maps both)."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/"


def wants_json() -> bool:
    """Say whether the request is for the API (which always answers JSON)."""
    return request.path.startswith(API_PREFIX)


def json_error(status: int, message: str, **extra: Any) -> Any:
    """Return a JSON error body: {"error": {"status": 404, "message": "..."}}."""
    response = jsonify({"error": {"status": status, "message": message, **extra}})
    response.status_code = status
    return response


def _messages() -> dict[int, str]:
    return {
        400: _("The request was not understood."),
        401: _("Sign in first."),
        403: _("You do not have permission to do this."),
        404: _("Not found, or not in your departments."),
        405: _("This action is not allowed here."),
        413: _("The request is too large."),
    }


def init_app(app: Flask) -> None:
    """Register the handlers for the desk's and the API's errors."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        message = _("The form expired or was sent from elsewhere. Reload the page and try again.")
        if wants_json():
            return json_error(400, message)
        return render_template("error.html", status=400, message=message), 400

    for status in (400, 403, 404, 405, 413):

        @app.errorhandler(status)
        def http_error(exc: HTTPException) -> Any:
            code = exc.code or 500
            message = _messages().get(code, exc.description or "")
            if wants_json():
                return json_error(code, message)
            if request.blueprint in ("ivr", "ivr_outbound"):
                return exc  # Twilio's routes answer their own way
            return render_template("error.html", status=code, message=message), code
