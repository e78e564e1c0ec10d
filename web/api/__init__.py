"""The JSON API, /api/v1: bearer tokens, the same access rules as the pages, JSON errors."""

from web.api.views import bp

__all__ = ["bp"]
