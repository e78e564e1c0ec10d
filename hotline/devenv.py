"""Print a development `.env` with fresh secrets: `python -m hotline.devenv > .env`.

`make run` writes it once, so the hotline starts in its normal (production) mode with real
secrets even on a laptop; the secrets are random per machine and never committed.
"""

from __future__ import annotations

import secrets


def render() -> str:
    """Return the .env text."""
    return "\n".join(
        [
            "# Written by `make run`; local to this machine, never commit it.",
            f"SECRET_KEY={secrets.token_hex(32)}",
            "# Twilio signs webhooks with the auth token; `hotline simulate-call` signs with",
            "# this one. Put your real account's SID and token here to take real calls.",
            f"TWILIO_AUTH_TOKEN={secrets.token_hex(16)}",
            "TWILIO_ACCOUNT_SID=",
            "TWILIO_PHONE_NUMBER=",
            "# The simulator serves recordings from loopback.",
            "HOTLINE_RECORDING_HOSTS=api.twilio.com,127.0.0.1,localhost",
            "# http://127.0.0.1 has no TLS: allow the session cookie over plain HTTP.",
            "HOTLINE_SECURE_COOKIES=false",
            "HOTLINE_PROXY_FIX=0",
            "",
        ]
    )


if __name__ == "__main__":
    print(render(), end="")
