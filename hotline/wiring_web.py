"""The officers' desk and the JSON API (filled by issue 5)."""

from __future__ import annotations

from flask import Flask

from hotline.runtime import Runtime


def init_app(app: Flask, rt: Runtime) -> None:
    """Register the web blueprints."""
