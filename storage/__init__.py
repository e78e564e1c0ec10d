"""Persistence: SQLAlchemy models, sessions, Alembic migrations and the audio file store."""
