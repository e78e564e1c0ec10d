"""The guard on every Twilio route: a valid X-Twilio-Signature or 403.

Twilio signs the exact URL it requested (the public https one) plus the POST parameters with
the account's auth token. Behind a reverse proxy `request.url` is that URL only because
ProxyFix rebuilt it from X-Forwarded-*; where the proxies are not trusted, HOTLINE_PUBLIC_URL
names the public base and is tried as well. No token means no valid request: the check is
never skipped.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import abort, current_app, request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from ivr.options import IvrOptions

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def twilio_signed(view: Callable[P, R]) -> Callable[P, R]:
    """Refuse the request with 403 unless Twilio signed it with our auth token."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        options: IvrOptions = current_app.extensions["ivr.options"]
        if not is_signed(options):
            abort(403)
        return view(*args, **kwargs)

    return guarded


def is_signed(options: IvrOptions) -> bool:
    """Say whether the current request carries a valid Twilio signature (and log if not)."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not options.auth_token:
        log.error(
            "refused %s: TWILIO_AUTH_TOKEN is not set, no request can be trusted", request.path
        )
        return False
    if not signature:
        log.warning(
            "refused %s from %s: no %s header", request.path, request.remote_addr, SIGNATURE_HEADER
        )
        return False
    validator = RequestValidator(options.auth_token)
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    for url in candidate_urls(options):
        if validator.validate(url, request.form, signature, algorithm):
            return True
    log.warning(
        "refused %s from %s: X-Twilio-Signature does not match %s",
        request.path,
        request.remote_addr,
        request.url,
    )
    return False


def candidate_urls(options: IvrOptions) -> list[str]:
    """Return the URLs Twilio may have signed for this request."""
    urls = [request.url]
    # request.url is rebuilt by Werkzeug and decodes some percent-escapes (%7B, %C3%A9, %2F);
    # Twilio signed the URL exactly as it requested it, so also try the raw request target.
    raw_target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw_target and raw_target.startswith("/"):
        raw = request.host_url.rstrip("/") + request.script_root + raw_target
        if raw not in urls:
            urls.append(raw)
    if options.public_url:
        query = request.query_string.decode("latin-1")
        path = request.script_root + request.path
        public = options.public_url.rstrip("/") + path + (f"?{query}" if query else "")
        if public != request.url:
            urls.append(public)
    return urls
