"""SQLite writers take turns in our queue: threads and processes wait, then write; none is lost.

These run on SQLite files of their own in both test modes: the queue exists only for SQLite.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, exc, text

from storage import db as storage_db
from storage.db import make_engine

ROOT = Path(__file__).resolve().parents[2]

# Holds a write transaction in another process until told to commit (or killed).
HOLDER = """
import sys
sys.path.insert(0, {root!r})
from storage.db import make_engine
engine = make_engine({url!r})
with engine.connect() as conn:
    tx = conn.begin()
    conn.exec_driver_sql("INSERT INTO t (x) VALUES (1)")
    print("held", flush=True)
    sys.stdin.readline()
    tx.commit()
print("committed", flush=True)
"""


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    engine.dispose()
    return url


@pytest.fixture
def engines(url: str) -> Iterator[tuple[Engine, Engine]]:
    # Two engines on one file, as the web app and a job runner share a process.
    first, second = make_engine(url), make_engine(url)
    yield first, second
    first.dispose()
    second.dispose()


def hold_in_another_process(url: str) -> subprocess.Popen[str]:
    """Start a process that holds a write transaction; it prints "held" once it does."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(root=str(ROOT), url=url)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def rows(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [x for (x,) in conn.execute(text("SELECT x FROM t ORDER BY rowid"))]


def write_in_thread(engine: Engine, value: int) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t (x) VALUES (:x)", {"x": value})
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread, errors


def test_a_second_writer_of_the_process_waits_for_the_first_then_writes(
    engines: tuple[Engine, Engine],
) -> None:
    first, second = engines
    with first.connect() as conn:
        tx = conn.begin()
        conn.exec_driver_sql("INSERT INTO t (x) VALUES (1)")
        thread, errors = write_in_thread(second, 2)
        thread.join(0.3)
        assert thread.is_alive(), "the second writer must wait for the first one's turn"
        tx.commit()
    thread.join(10)
    assert not thread.is_alive() and errors == []
    assert rows(first) == [1, 2]


def test_a_writer_waits_for_another_process_then_writes(
    url: str, engines: tuple[Engine, Engine]
) -> None:
    holder = hold_in_another_process(url)
    try:
        assert holder.stdout is not None and holder.stdin is not None
        thread, errors = write_in_thread(engines[0], 2)
        thread.join(0.3)
        assert thread.is_alive(), "the writer must wait for the other process's turn"
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "committed"
        thread.join(10)
        assert not thread.is_alive() and errors == []
    finally:
        holder.kill()
        holder.wait()
    assert rows(engines[0]) == [1, 2]


def test_a_process_killed_holding_the_turn_does_not_block_the_others(
    url: str, engines: tuple[Engine, Engine]
) -> None:
    holder = hold_in_another_process(url)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    thread, errors = write_in_thread(engines[0], 2)
    thread.join(10)
    assert not thread.is_alive() and errors == []
    assert rows(engines[0]) == [2]  # the killed transaction never committed


def test_a_writer_gives_up_after_the_busy_timeout_with_sqlites_error(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    first, second = engines
    with first.connect() as conn:
        tx = conn.begin()
        conn.exec_driver_sql("INSERT INTO t (x) VALUES (1)")
        thread, errors = write_in_thread(second, 2)
        thread.join(10)
        assert len(errors) == 1
        assert isinstance(errors[0], exc.OperationalError)
        assert "database is locked" in str(errors[0])
        tx.commit()
    # The turn was handed back: the next writer gets in at once.
    thread, errors = write_in_thread(second, 3)
    thread.join(10)
    assert errors == []
    assert rows(first) == [1, 3]


@pytest.mark.parametrize("ending", ["exception", "close without commit", "invalidate"])
def test_every_way_a_transaction_ends_hands_the_turn_on(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    # A leaked turn would make the next writer time out (short here) instead of writing.
    monkeypatch.setattr(storage_db, "SQLITE_BUSY_TIMEOUT_MS", 500)
    first, second = engines
    if ending == "exception":
        with pytest.raises(ZeroDivisionError), first.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t (x) VALUES (1)")
            _ = 1 / 0
    else:
        conn = first.connect()
        conn.begin()
        conn.exec_driver_sql("INSERT INTO t (x) VALUES (1)")
        if ending == "invalidate":
            # What SQLAlchemy does on a lost connection: invalidate, then the caller rolls back.
            conn.invalidate()
            conn.rollback()
        conn.close()
    thread, errors = write_in_thread(second, 2)
    thread.join(10)
    assert errors == []
    assert rows(second) == [2]


def test_a_forked_child_has_a_turn_of_its_own(url: str) -> None:
    # gunicorn --preload forks workers from a master that may have built the engines: each
    # child must queue against the others, not share the parent's lock or its flock.
    queue = storage_db._writer_queue(url.removeprefix("sqlite:///"))
    assert queue is not None
    assert queue.acquire(timeout_s=5)
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            started = time.monotonic()
            got = queue.acquire(timeout_s=5)
            waited = time.monotonic() - started
            # 0: waited for the parent, then got its turn; 1: did not wait (shared lock);
            # 2: never got it (the parent's held lock was copied).
            code = 2 if not got else (0 if waited >= 0.2 else 1)
        finally:
            os._exit(code)
    time.sleep(0.4)
    queue.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_without_file_locks_writers_still_take_turns(
    engines: tuple[Engine, Engine],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Some network file systems refuse flock: the threads still queue, and other processes
    # fall back to SQLite's busy handler instead of every write failing.
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(storage_db.fcntl, "flock", no_locks)
    first, second = engines
    with first.connect() as conn:
        tx = conn.begin()
        conn.exec_driver_sql("INSERT INTO t (x) VALUES (1)")
        thread, errors = write_in_thread(second, 2)
        thread.join(0.3)
        assert thread.is_alive()
        tx.commit()
    thread.join(10)
    assert errors == []
    assert rows(first) == [1, 2]
    assert "no file lock" in caplog.text


def test_the_queue_is_per_database_file(url: str, tmp_path: Path) -> None:
    database = url.removeprefix("sqlite:///")
    queue = storage_db._writer_queue(database)
    assert queue is not None
    assert storage_db._writer_queue(str(Path(database))) is queue
    assert storage_db._writer_queue(str(tmp_path / "other.db")) is not queue
    assert storage_db._writer_queue(":memory:") is None
