"""Engines and sessions.

SQLite is the embedded default (one office, one machine); PostgreSQL is used through
DATABASE_URL. Nothing connects at import time.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

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
        if read_only:
            event.listen(engine, "begin", _sqlite_begin_deferred)
        else:
            _queue_writers(engine, _writer_queue(parsed.database))
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


# --- SQLite writers take turns in a queue of ours, not in SQLite's busy handler ----------------
#
# SQLite lets one writer in at a time. A writer that finds the lock taken sleeps in SQLite's busy
# handler on a fixed schedule (1, 2, 5, 10 ... up to 100 ms between tries) however soon the lock
# frees: under 50 concurrent calls that sleep was the tail of the webhooks' latency (BEGIN
# IMMEDIATE waited 35 ms at p95 and 84 ms at p99 for transactions of 2-5 ms).


class WriterQueue:
    """One SQLite file's writers, in turn: threads on a lock, processes on a file lock.

    The threads of a process queue on a Python lock, handed over the moment it is released;
    the thread at the head then takes an exclusive `flock` on `<database>-writer.lock`, polled
    every millisecond, so writers of different processes (web workers, the queue's worker)
    also take turns without SQLite's sleeps. Held from BEGIN IMMEDIATE to COMMIT or ROLLBACK.
    Both give up after the busy timeout, with SQLite's own "database is locked" error. A
    process that dies holding the file lock loses it with its file descriptor.
    """

    POLL_S = 0.001

    def __init__(self, path: str) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._cross_process = True

    def forget_parent(self) -> None:
        """In a forked child: a lock of our own, and a file of our own to flock.

        The child copied the parent's lock as it was (held, if another thread was writing) and
        shares its open file, and so its flock: parent and child would be one writer.
        """
        self._threads = threading.Lock()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def acquire(self, timeout_s: float) -> bool:
        """Wait for our turn; False when `timeout_s` passed first."""
        deadline = time.monotonic() + timeout_s
        if not self._threads.acquire(timeout=timeout_s):
            return False
        try:
            if not self._cross_process:
                return True
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        self._threads.release()
                        return False
                    time.sleep(self.POLL_S)
        except OSError as error:
            # A file system without flock (some network mounts) or a read-only folder: queue
            # the threads only, and leave processes to SQLite's busy handler, as before.
            log.warning(
                "no file lock at %s (%s); SQLite writers of other processes "
                "will wait in SQLite's busy handler",
                self.path,
                error,
            )
            self._cross_process = False
            return True
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        """Hand the turn to the next writer."""
        try:
            if self._fd is not None and self._cross_process:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


_WRITER_QUEUES: dict[str, WriterQueue] = {}
_WRITER_QUEUES_GUARD = threading.Lock()
_HELD = "hotline_writer_queue"


def _writer_queue(database: str | None) -> WriterQueue | None:
    """Return this process's queue for the SQLite file `database` (None: in memory)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    key = os.path.realpath(database)
    with _WRITER_QUEUES_GUARD:
        return _WRITER_QUEUES.setdefault(key, WriterQueue(key + "-writer.lock"))


def _forget_parent_queues() -> None:
    # Engines made before a fork (gunicorn --preload) keep their queue objects: reset them in
    # place. The child runs this before any other thread exists.
    global _WRITER_QUEUES_GUARD
    _WRITER_QUEUES_GUARD = threading.Lock()
    for queue in _WRITER_QUEUES.values():
        queue.forget_parent()


os.register_at_fork(after_in_child=_forget_parent_queues)


def _queue_writers(engine: Engine, queue: WriterQueue | None) -> None:
    def begin(conn: Any) -> None:
        if queue is not None:
            if not queue.acquire(timeout_s=SQLITE_BUSY_TIMEOUT_MS / 1000):
                raise exc.OperationalError(
                    "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
                )
            conn.info[_HELD] = queue
        try:
            # IMMEDIATE takes SQLite's write lock up front, so a writer never fails with
            # "database is locked" when it upgrades a read lock mid-transaction.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn.info)
            raise

    def end(conn: Any, finish: str) -> None:
        # A Connection's commit/rollback event runs before SQLAlchemy's own DBAPI call, so
        # finish the transaction here, then hand the turn on (the DBAPI call that follows
        # finds no transaction open and does nothing).
        if conn.invalidated or _HELD not in conn.info:
            return  # an invalidated connection handed the turn on when it was invalidated
        try:
            getattr(conn.connection.dbapi_connection, finish)()
        except sqlite3.Error as error:
            # Still in the transaction: the turn is kept until the rollback that follows.
            raise exc.OperationalError(finish.upper(), None, error) from error
        _release(conn.info)

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", lambda conn: end(conn, "commit"))
    event.listen(engine, "rollback", lambda conn: end(conn, "rollback"))
    # A connection lost (invalidated), or checked in or reset without either event, frees it.
    event.listen(engine, "invalidate", lambda dbapi_conn, record, error: _release(record.info))
    event.listen(engine, "checkin", lambda dbapi_conn, record: _release(record.info))
    event.listen(engine, "reset", lambda dbapi_conn, record, state: _release(record.info))


def _release(info: dict[str, Any]) -> None:
    queue = info.pop(_HELD, None)
    if queue is not None:
        queue.release()


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
