"""Engines and sessions.

SQLite is the embedded default (one office, one machine); PostgreSQL is used through
DATABASE_URL. Nothing connects at import time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# How long a SQLite writer waits for the lock before giving up, in milliseconds. Webhooks and
# the worker write the same file; a short wait turns contention into latency, not errors.
SQLITE_BUSY_TIMEOUT_MS = 5000
# The same for PostgreSQL, whose default is to wait for a lock for ever: a webhook stuck behind
# a long transaction would outlive Twilio's 15 s timeout instead of failing cleanly.
POSTGRES_LOCK_TIMEOUT_MS = 5000


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """Return an engine for `url`, with SQLite tuned for a web process and workers.

    `read_only` engines (for GET requests) open plain deferred SQLite transactions, which read
    a WAL snapshot without taking the write lock; every other engine takes the write lock up
    front. On PostgreSQL both are the same.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin_deferred if read_only else _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            # Prefer psycopg 3 when the URL names no driver.
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("options", f"-c lock_timeout={POSTGRES_LOCK_TIMEOUT_MS}")
        kwargs["connect_args"] = connect_args
    return create_engine(url, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs; we emit BEGIN
    # ourselves in _sqlite_on_begin (the recipe from SQLAlchemy's SQLite dialect docs).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    if cursor.execute("PRAGMA database_list").fetchone()[2]:  # not an in-memory database
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead of
    # one failing with "database is locked" when it upgrades a read lock.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory used by requests and jobs."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Run one unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
