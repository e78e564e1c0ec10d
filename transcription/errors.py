"""Errors of the transcription subsystem.

Every error has a stable `code` (for the web to translate and for metrics) and an English
message for logs. `transient` says whether trying again later may succeed; the job retries only
those and fails the recording at once on the others.
"""

from __future__ import annotations


class TranscriptionError(Exception):
    """Base of every error raised by this package."""

    code = "transcription_error"
    transient = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code

    def describe(self) -> str:
        """Return `code: message`, the text stored on a failed recording."""
        return f"{self.code}: {self.message}"


class AudioError(TranscriptionError):
    """The bytes are not audio we can decode: empty, corrupt, not audio, or too long."""

    code = "audio_invalid"


class ModelError(TranscriptionError):
    """The model cannot be found, assembled or loaded."""

    code = "model_unavailable"


class ModelChecksumError(ModelError):
    """The model file on disk is not the one we expect; we refuse to load it."""

    code = "model_checksum"


class EngineUnavailable(ModelError):
    """The engine's library is not installed (an optional extra)."""

    code = "engine_unavailable"


class DownloadError(TranscriptionError):
    """Fetching a recording failed for good (refused host, 401, too large ...)."""

    code = "download_failed"


class TransientDownloadError(DownloadError):
    """Fetching a recording failed in a way that may pass (404 before ready, 5xx, timeout)."""

    code = "download_unavailable"
    transient = True
    # Seconds the server asked us to wait (Retry-After), if it said.
    retry_after: float | None = None


class StoreFailed(TranscriptionError):
    """The audio store could not keep the file (disk full, permissions); may pass."""

    code = "audio_store_failed"
    transient = True
