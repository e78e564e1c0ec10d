"""Shared fixtures: the app on a fresh migrated database per test, clients, signing, guards."""

from __future__ import annotations

import ipaddress
import itertools
import os
import queue
import shutil
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from hotline import create_app
from hotline.runtime import Runtime, runtime
from storage import migrate
from storage.db import make_engine, transaction
from storage.seed import seed_reference

TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"
TEST_ACCOUNT_SID = "AC" + "0" * 32

# The scale-out mode (`make test-scaleout`): every test's app on a fresh PostgreSQL database
# cloned from a migrated, seeded template, and on Redis queues (flushed around each test).
# Unset: SQLite files and the SQLite-backed queue, as in production on one machine.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")

# `HOTLINE_TEST_SHIFT_DAYS=400 pytest`: the whole suite with this process's wall clock moved that
# many days ahead (it keeps ticking), to prove that no test depends on today's date: a test that
# asserts anything about dates must freeze the app's clock (`HOTLINE_CLOCK`). CI runs the
# scale-out pass this way.
SHIFT_DAYS = int(os.environ.get("HOTLINE_TEST_SHIFT_DAYS", "0") or "0")


def pytest_configure(config: pytest.Config) -> None:
    if SHIFT_DAYS:
        moved = datetime.now(UTC) + timedelta(days=SHIFT_DAYS)
        time_machine.travel(moved, tick=True).start()


def pytest_report_header(config: pytest.Config) -> str | None:
    if SHIFT_DAYS:
        return (
            f"wall clock moved {SHIFT_DAYS} days ahead: now {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        )
    return None


# --- no network outside loopback ---------------------------------------------------------------

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if (ip is None and host != "localhost") or (ip is not None and not ip.is_loopback):
            raise RuntimeError(f"test tried to reach {address!r}: only loopback is allowed")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _guard_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


# --- the database: migrated and seeded once, copied for each test ------------------------------


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated with Alembic and loaded with the reference data."""
    path = tmp_path_factory.mktemp("template") / "hotline.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with transaction(sessionmaker(bind=engine)) as db:
        seed_reference(db)
    engine.dispose()
    return path


class PostgresDatabases:
    """Fresh PostgreSQL databases for tests, cloned from one migrated and seeded template.

    `CREATE DATABASE ... TEMPLATE` copies the template in a fraction of a second, and a thread
    creates the next databases and drops used ones while the tests run, so a test waits for
    neither. Names carry the test process id; databases left by a killed run are dropped at
    the next start.
    """

    AHEAD = 2

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.prefix = f"hotline_test_{os.getpid()}_"
        self.template = self.prefix + "template"
        self.admin: Engine = make_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self._names = (f"{self.prefix}{n}" for n in itertools.count())
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._work: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="pg-test-databases", daemon=True)

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def start(self) -> None:
        self._drop_leftovers()
        self._execute(f'CREATE DATABASE "{self.template}"')
        migrate.upgrade(self.url_of(self.template))
        engine = make_engine(self.url_of(self.template), poolclass=NullPool)
        with transaction(sessionmaker(bind=engine)) as db:
            seed_reference(db)
        engine.dispose()
        self._thread.start()
        for _ in range(self.AHEAD):
            self._work.put(("create", next(self._names)))

    def acquire(self) -> str:
        """Return the URL of a fresh database; `release` it after the test."""
        self._work.put(("create", next(self._names)))
        name = self._ready.get(timeout=120)
        if isinstance(name, BaseException):
            raise name
        return self.url_of(name)

    def release(self, url: str) -> None:
        name = make_url(url).database
        assert name and name.startswith(self.prefix)
        self._work.put(("drop", name))

    def close(self) -> None:
        self._work.put(None)
        self._thread.join(timeout=120)
        while not self._ready.empty():
            name = self._ready.get()
            if isinstance(name, str):
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self.admin.dispose()

    def _run(self) -> None:
        while (job := self._work.get()) is not None:
            action, name = job
            try:
                if action == "create":
                    self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                    self._ready.put(name)
                else:
                    self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except BaseException as exc:  # hand it to the waiting test
                self._ready.put(exc)

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def _drop_leftovers(self) -> None:
        with self.admin.connect() as conn:
            names = conn.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'hotline\\_test\\_%'")
            ).all()
        for name in names:
            pid = name.split("_")[2]
            if pid.isdigit() and not _process_alive(int(pid)):
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """The source of per-test PostgreSQL databases (only when TEST_DATABASE_URL is set)."""
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    databases = PostgresDatabases(TEST_DATABASE_URL)
    databases.start()
    yield databases
    databases.close()


def make_test_config(tmp_path: Path, db_path: Path, **extra: Any) -> dict[str, Any]:
    """Return the settings a test app runs with (all state under tmp_path)."""
    config: dict[str, Any] = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{db_path}",
        "SECRET_KEY": "test-secret-key",
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "HOTLINE_QUEUE_PATH": str(tmp_path / "queue.db"),
        "HOTLINE_AUDIO_DIR": str(tmp_path / "audio"),
        "WTF_CSRF_ENABLED": True,
    }
    if TEST_REDIS_URL:
        config["REDIS_URL"] = TEST_REDIS_URL
    config.update(extra)
    return config


@pytest.fixture
def app_config(tmp_path: Path, template_db: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for this test's app; a test may change them before using `app`."""
    db_path = tmp_path / "hotline.db"
    config = make_test_config(tmp_path, db_path)
    if TEST_DATABASE_URL:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        url = databases.acquire()
        request.addfinalizer(lambda: databases.release(url))
        config["DATABASE_URL"] = url
    else:
        shutil.copyfile(template_db, db_path)
    return config


def flush_queues(application: Flask) -> None:
    """Empty the app's queues (Redis queues outlive a test; SQLite ones live in tmp_path)."""
    for huey in runtime(application).queues.values():
        huey.flush()


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(app_config)
    # The test's own Redis (a test may point at a server it stops and starts) is left alone.
    shared_queues = bool(TEST_REDIS_URL) and runtime(application).settings.redis_url == (
        TEST_REDIS_URL
    )
    if shared_queues:
        flush_queues(application)
    yield application
    if shared_queues:
        flush_queues(application)
    runtime(application).close()


@pytest.fixture
def rt(app: Flask) -> Runtime:
    return runtime(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def db(rt: Runtime) -> Iterator[Session]:
    """A session on the test's database; the test commits what it wants others to see."""
    session = rt.sessions()
    yield session
    session.rollback()
    session.close()
