"""The one place for configuration.

Settings come from defaults, then the environment (and an optional `.env`), then a test's
overrides. Names follow the ecosystem where one exists (DATABASE_URL, REDIS_URL, SECRET_KEY,
TWILIO_*); our own start with HOTLINE_. Every field below is one setting; its environment name is
the field name upper-cased, with HOTLINE_ in front unless it is listed in `_PLAIN_NAMES`.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

_PLAIN_NAMES = {
    "secret_key",
    "database_url",
    "redis_url",
    "twilio_account_sid",
    "twilio_auth_token",
    "twilio_phone_number",
}


class ConfigError(Exception):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    # --- core ---
    secret_key: str = ""
    database_url: str = ""  # empty: SQLite file in the instance folder
    redis_url: str = ""  # empty: the embedded SQLite-backed task queue
    queue_path: str = ""  # HOTLINE_QUEUE_PATH; empty: queue.db in the instance folder
    # Run jobs in the web process right away instead of on the queue (tests of pure web code).
    queue_immediate: bool = False
    timezone: str = "Asia/Ho_Chi_Minh"
    public_url: str = ""  # e.g. https://hotline.example.gov.vn; empty: from the request
    proxy_fix: int = 1  # how many reverse proxies stand in front (X-Forwarded-* to trust)
    base_url: str = "http://127.0.0.1:5000"  # for links in notifications
    # Send cookies over HTTPS only; `make run` turns it off for http://127.0.0.1.
    secure_cookies: bool = True

    # --- Twilio ---
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_phone_number: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    recording_hosts: tuple[str, ...] = ("api.twilio.com",)
    delete_twilio_recordings: bool = False
    sms_confirmation: bool = True
    voice_vi: str = "Google.vi-VN-Standard-A"
    voice_en: str = "Google.en-US-Standard-C"
    # Base URL of recorded prompt files (greeting.mp3, menu.mp3 ...); empty: text to speech.
    prompt_audio_url: str = ""

    # --- the call flow ---
    menu_max_tries: int = 3
    record_max_seconds: int = 180
    missed_call_min_seconds: int = 5

    # --- audio and transcription ---
    audio_dir: str = ""  # empty: audio/ in the instance folder
    # Empty: files under audio_dir. "s3://bucket/prefix": an S3-compatible bucket shared by
    # every machine (audio_dir is then its local read cache); see storage/s3_store.py.
    audio_store_url: str = ""
    s3_endpoint_url: str = ""  # e.g. http://127.0.0.1:9000 for MinIO; empty: AWS
    max_recording_bytes: int = 20 * 1024 * 1024
    max_audio_seconds: int = 600
    download_timeout_s: float = 30.0
    download_retries: int = 5
    transcribe_engine: str = "faster-whisper"
    whisper_model: str = "base"
    whisper_device: str = "auto"
    whisper_compute_type: str = "auto"
    whisper_beam_size: int = 5
    model_cache_dir: str = ""  # empty: ~/.cache/hotline/models
    transcribe_retries: int = 3
    stuck_after_minutes: int = 15

    # --- tickets, SLA, callbacks ---
    default_sla_hours: float = 4.0
    # Minutes until the next try after no answer or busy; "morning" means next working morning.
    retry_schedule: tuple[str, ...] = ("60", "240", "morning")
    max_attempts: int = 3
    pool_return_minutes: int = 30
    escalate_after_minutes: int = 120
    due_soon_minutes: int = 30
    resolved_sms: bool = False
    retention_days: int = 365

    # --- e-mail ---
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "hotline@localhost"

    # --- web ---
    login_max_failures: int = 5
    login_lock_minutes: int = 15

    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some settings changed."""
        return dataclasses.replace(self, **changes)


def env_name(field_name: str) -> str:
    """Return the environment variable that sets `field_name`."""
    upper = field_name.upper()
    return upper if field_name in _PLAIN_NAMES else f"HOTLINE_{upper}"


def load_settings(
    instance_path: Path, environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build the settings from the environment and overrides (keys are environment names)."""
    values: dict[str, Any] = {}
    overrides = dict(overrides or {})
    hints = typing.get_type_hints(Settings)
    for f in fields(Settings):
        if f.name == "extra":
            continue
        name = env_name(f.name)
        if name in overrides:
            raw: Any = overrides.pop(name)
        elif name in environ:
            raw = environ[name]
        else:
            continue
        values[f.name] = _coerce(name, raw, hints[f.name])
    settings = Settings(**values, extra=overrides)
    return _fill_paths(settings, instance_path)


def _fill_paths(settings: Settings, instance_path: Path) -> Settings:
    changes: dict[str, Any] = {}
    if not settings.database_url:
        changes["database_url"] = f"sqlite:///{instance_path / 'hotline.db'}"
    if not settings.queue_path:
        changes["queue_path"] = str(instance_path / "queue.db")
    if not settings.audio_dir:
        changes["audio_dir"] = str(instance_path / "audio")
    if not settings.model_cache_dir:
        changes["model_cache_dir"] = str(Path.home() / ".cache" / "hotline" / "models")
    return settings.replace(**changes) if changes else settings


def _coerce(name: str, raw: Any, hint: Any) -> Any:
    if not isinstance(raw, str):
        return tuple(raw) if typing.get_origin(hint) is tuple else raw
    text = raw.strip()
    try:
        if hint is bool:
            if text.lower() in {"1", "true", "yes", "on"}:
                return True
            if text.lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(text)
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
        if typing.get_origin(hint) is tuple:
            return tuple(part.strip() for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a valid {_type_name(hint)}") from exc
    return text


def _type_name(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    if isinstance(hint, types.GenericAlias):
        return "comma-separated list"
    return str(hint)


def check_production(settings: Settings) -> None:
    """Refuse to run in production without the secrets that protect it."""
    missing = [
        env_name(name)
        for name in ("secret_key", "twilio_auth_token")
        if not getattr(settings, name)
    ]
    if missing:
        raise ConfigError(
            "refusing to start in production mode without "
            + ", ".join(missing)
            + " (set them in the environment or .env; FLASK_DEBUG=1 for development)"
        )


def environment() -> Mapping[str, str]:
    """Return the process environment (one seam for tests)."""
    return os.environ
