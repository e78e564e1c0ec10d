"""The composition root: builds the Flask app and wires every subsystem together."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from hotline.config import check_production, environment, load_settings
from hotline.runtime import Runtime, build_runtime

log = logging.getLogger(__name__)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the hotline's Flask app: defaults, then environment, then test overrides."""
    app = Flask("hotline", instance_relative_config=True)
    if test_config is None:
        # A .env in the working directory, for development; real environments set variables.
        load_dotenv(Path.cwd() / ".env", override=False)
    overrides = dict(test_config or {})
    testing = bool(overrides.get("TESTING", False))
    env = environment()
    instance = Path(
        overrides.pop("INSTANCE_PATH", env.get("HOTLINE_INSTANCE_PATH", "")) or app.instance_path
    )
    app.instance_path = str(instance)
    instance.mkdir(parents=True, exist_ok=True)

    settings = load_settings(instance, env, overrides)
    debug = env.get("FLASK_DEBUG", "").lower() in {"1", "true", "yes", "on"}
    if not testing and not debug:
        check_production(settings)

    app.config.update(
        TESTING=testing,
        SECRET_KEY=settings.secret_key or os.urandom(32).hex(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies and not testing,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies and not testing,
        REMEMBER_COOKIE_HTTPONLY=True,
        # A webhook or form is small; a larger body is an attack or a mistake.
        MAX_CONTENT_LENGTH=1024 * 1024,
        HOTLINE_SETTINGS=settings,
    )
    for key, value in settings.extra.items():
        app.config[key] = value

    if settings.proxy_fix > 0:
        # Twilio signs the public https URL; behind a proxy we must rebuild it from
        # X-Forwarded-Proto/Host or every signature check fails.
        n = settings.proxy_fix
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n
        )

    rt = build_runtime(settings)
    if overrides.get("HOTLINE_CLOCK") is not None:
        rt.clock = overrides["HOTLINE_CLOCK"]
    # One clock for the whole app: the phone line reads it from the config, the desk from its
    # deps, jobs from the runtime.
    app.config["HOTLINE_CLOCK"] = rt.clock
    app.extensions["hotline"] = rt
    app.extensions["sessions"] = rt.sessions
    app.extensions["reference"] = rt.reference
    _init_request_session(app, rt)

    # Each subsystem's wiring module adapts the runtime to its domain code: services first
    # (telephony, notifier), then the queues and jobs that use them, then blueprints.
    from hotline import tasks, wiring_ivr, wiring_tickets, wiring_web

    wiring_ivr.init_app(app, rt)
    wiring_tickets.init_app(app, rt)
    tasks.init_app(app, rt)
    wiring_web.init_app(app, rt)

    from hotline.cli import register_commands

    register_commands(app)
    return app


def _init_request_session(app: Flask, rt: Runtime) -> None:
    """Give each request one lazily connecting session, `g.db`, closed at teardown."""

    @app.before_request
    def open_session() -> None:
        # A page view only reads; a webhook or form post writes and takes the write lock at
        # its first statement, so its read-then-write never fails on a stale snapshot.
        reads_only = request.method in ("GET", "HEAD", "OPTIONS")
        g.db = (rt.read_sessions if reads_only else rt.sessions)()

    @app.teardown_appcontext
    def close_session(exc: BaseException | None) -> None:
        db = g.pop("db", None)
        if db is not None:
            if exc is not None:
                db.rollback()
            db.close()
