from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from storage import migrate
from storage.db import make_engine


def test_migrations_apply_on_an_empty_database_and_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    migrate.upgrade(url)
    migrate.check(url)  # raises if a model changed without a migration
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"calls", "tickets", "recordings", "transcripts", "topics", "departments"} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_check_reports_drift(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE tickets DROP COLUMN business_name"))
    engine.dispose()
    with pytest.raises(Exception, match="business_name"):
        migrate.check(url)
