"""Settings: environment names, parsing, production guard, and the README that documents them."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from hotline import create_app
from hotline.config import ConfigError, Settings, env_name, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_names_follow_the_ecosystem_and_our_prefix() -> None:
    assert env_name("database_url") == "DATABASE_URL"
    assert env_name("twilio_auth_token") == "TWILIO_AUTH_TOKEN"
    assert env_name("whisper_model") == "HOTLINE_WHISPER_MODEL"


def test_environment_values_are_parsed_by_type(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path,
        {
            "HOTLINE_MENU_MAX_TRIES": "4",
            "HOTLINE_DELETE_TWILIO_RECORDINGS": "yes",
            "HOTLINE_RECORDING_HOSTS": "api.twilio.com, 127.0.0.1",
            "HOTLINE_DEFAULT_SLA_HOURS": "2.5",
        },
    )
    assert settings.menu_max_tries == 4
    assert settings.delete_twilio_recordings is True
    assert settings.recording_hosts == ("api.twilio.com", "127.0.0.1")
    assert settings.default_sla_hours == 2.5
    # Unset paths land in the instance folder.
    assert settings.database_url == f"sqlite:///{tmp_path / 'hotline.db'}"
    assert settings.audio_dir == str(tmp_path / "audio")


def test_a_malformed_value_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HOTLINE_MENU_MAX_TRIES='three' is not a valid int"):
        load_settings(tmp_path, {"HOTLINE_MENU_MAX_TRIES": "three"})
    with pytest.raises(ConfigError, match="HOTLINE_SMS_CONFIRMATION"):
        load_settings(tmp_path, {"HOTLINE_SMS_CONFIRMATION": "perhaps"})


def test_production_refuses_to_start_without_its_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    for name in ("SECRET_KEY", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env here
    with pytest.raises(ConfigError, match="SECRET_KEY, TWILIO_AUTH_TOKEN"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    with pytest.raises(ConfigError, match="without TWILIO_AUTH_TOKEN"):
        create_app()
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t" * 32)
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_development_mode_starts_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert create_app().config["SECRET_KEY"]


def test_the_readme_documents_every_setting() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [
        env_name(f.name)
        for f in fields(Settings)
        if f.name != "extra" and f"`{env_name(f.name)}`" not in text
    ]
    assert not missing, f"document these settings in README.md: {missing}"
