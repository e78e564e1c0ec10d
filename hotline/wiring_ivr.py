"""The phone line: telephony service and the IVR blueprint (filled by issue 2)."""

from __future__ import annotations

from flask import Flask

from hotline.runtime import Runtime


def init_app(app: Flask, rt: Runtime) -> None:
    """Register the telephony service and the Twilio webhooks."""
