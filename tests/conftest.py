"""Shared fixtures: the app on a fresh migrated database per test, clients, signing, guards."""

from __future__ import annotations

import ipaddress
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy.orm import Session

from hotline import create_app
from hotline.runtime import Runtime, runtime
from storage import migrate
from storage.db import make_engine, transaction
from storage.seed import seed_reference

TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"
TEST_ACCOUNT_SID = "AC" + "0" * 32


# --- no network outside loopback ---------------------------------------------------------------

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is None and host != "localhost" or ip is not None and not ip.is_loopback:
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
    from sqlalchemy.orm import sessionmaker

    with transaction(sessionmaker(bind=engine)) as db:
        seed_reference(db)
    engine.dispose()
    return path


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
    config.update(extra)
    return config


@pytest.fixture
def app_config(tmp_path: Path, template_db: Path) -> dict[str, Any]:
    """Settings for this test's app; a test may change them before using `app`."""
    db_path = tmp_path / "hotline.db"
    shutil.copyfile(template_db, db_path)
    return make_test_config(tmp_path, db_path)


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(app_config)
    yield application
    runtime(application).engine.dispose()


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
