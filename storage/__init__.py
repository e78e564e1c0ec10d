"""Persistence: SQLAlchemy models, sessions, Alembic migrations and the audio file store."""

# The search index is kept by a flush listener; importing the module registers it wherever
# storage is used (web, worker, CLI, tests).
from storage import search as _search  # noqa: F401
