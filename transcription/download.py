"""Fetch a recording from Twilio into the audio store, and delete it there afterwards.

Twilio serves `RecordingUrl + ".wav"` (8 kHz PCM) behind HTTP Basic auth with the account SID
and auth token. Right after the recording callback the file may not be ready yet and Twilio
answers 404 for a few seconds, so 404, 429, 5xx, timeouts and dropped connections are retried
with exponential backoff; 401/403 and other 4xx are not (no retry fixes a wrong token).

The URL comes from a webhook, so it is checked before any byte is sent: only hosts listed in
HOTLINE_RECORDING_HOSTS, only HTTPS (plain HTTP only to loopback, for a local fake of Twilio),
and the credentials are never sent to another host, even on a redirect.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from storage.audio_store import AudioStore, AudioStoreError, StoredAudio
from transcription.errors import DownloadError, StoreFailed, TransientDownloadError
from transcription.options import DownloadOptions

log = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost"})
MAX_REDIRECTS = 5
CHUNK_BYTES = 64 * 1024
# Statuses worth another try: not ready yet, rate limited, or Twilio having a bad moment.
RETRY_STATUSES = frozenset({404, 408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "hotline-worker/1"

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Fetched:
    """What was stored, and from where."""

    stored: StoredAudio
    url: str
    content_type: str | None
    attempts: int


def is_loopback(host: str) -> bool:
    """Say whether `host` is this machine (plain HTTP is allowed only there)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def recording_media_url(source_url: str) -> str:
    """Return the URL of the WAV file for Twilio's RecordingUrl (which has no extension)."""
    path = urlsplit(source_url).path
    if path.endswith((".wav", ".mp3")):
        return source_url
    return source_url + ".wav"


def check_url(url: str, allowed_hosts: tuple[str, ...]) -> str:
    """Return the URL's host if the worker may fetch it, else raise DownloadError."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        raise DownloadError(f"not a URL: {url!r}", code="download_bad_url")
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(host)):
        raise DownloadError(
            f"refusing {parts.scheme or 'a non-HTTPS'} URL for {host}: only HTTPS "
            "(plain HTTP only to this machine)",
            code="download_insecure",
        )
    allowed = {h.strip().lower() for h in allowed_hosts if h.strip()}
    if host not in allowed:
        raise DownloadError(
            f"host {host} is not in HOTLINE_RECORDING_HOSTS ({', '.join(sorted(allowed))})",
            code="download_host_not_allowed",
        )
    return host


def _check_redirect(url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(host)):
        raise DownloadError(f"redirected to a non-HTTPS URL ({host})", code="download_insecure")


class Downloader:
    """Downloads recordings with retries; one per worker process (it keeps a connection pool)."""

    def __init__(
        self,
        options: DownloadOptions,
        *,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.options = options
        self.http = session or requests.Session()
        self.http.headers["User-Agent"] = USER_AGENT
        self.sleep = sleep

    @property
    def _auth(self) -> tuple[str, str] | None:
        o = self.options
        return (o.account_sid, o.auth_token) if o.account_sid and o.auth_token else None

    def fetch(self, url: str, store: AudioStore, key: str) -> Fetched:
        """Download `url` into `store` under `key`; retry what may pass, raise the rest."""
        check_url(url, self.options.allowed_hosts)
        delay = self.options.backoff_s
        last: TransientDownloadError | None = None
        for attempt in range(1, self.options.retries + 2):
            try:
                stored, content_type = self._fetch_once(url, store, key)
                return Fetched(stored, url, content_type, attempt)
            except TransientDownloadError as exc:
                last = exc
                if attempt > self.options.retries:
                    break
                wait = min(exc.retry_after or delay, self.options.max_backoff_s)
                log.info(
                    "recording %s not available (%s); retry %d in %.1f s",
                    url,
                    exc.message,
                    attempt,
                    wait,
                )
                self.sleep(wait)
                delay = min(delay * 2, self.options.max_backoff_s)
        assert last is not None
        raise TransientDownloadError(
            f"gave up after {self.options.retries + 1} attempts: {last.message}", code=last.code
        )

    def _fetch_once(self, url: str, store: AudioStore, key: str) -> tuple[StoredAudio, str | None]:
        deadline = time.monotonic() + self.options.timeout_s
        origin = urlsplit(url).hostname
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            same_host = urlsplit(current).hostname == origin
            try:
                response = self.http.get(
                    current,
                    # Credentials go only to the host the webhook named (and the allow-list
                    # approved); a redirect to a CDN gets a pre-signed URL, not our token.
                    auth=self._auth if same_host else None,
                    stream=True,
                    allow_redirects=False,
                    timeout=(min(10.0, self.options.timeout_s), self.options.timeout_s),
                )
            except requests.Timeout as exc:
                raise TimeoutDownload(f"timed out after {self.options.timeout_s:.0f} s") from exc
            except requests.RequestException as exc:
                raise TransientDownloadError(f"connection failed: {type(exc).__name__}") from exc
            with response:
                if response.is_redirect:
                    location = response.headers.get("Location", "")
                    current = urljoin(current, location)
                    _check_redirect(current)
                    continue
                self._check_status(response)
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.options.max_bytes:
                    raise TooLarge(int(declared), self.options.max_bytes)
                chunks = self._body(response, deadline)
                try:
                    stored = store.put(key, chunks)
                except OSError as exc:
                    # Disk full, permissions: the store removed its temp file; try again later.
                    raise StoreFailed(f"could not store the audio: {exc}") from exc
                except AudioStoreError as exc:
                    raise DownloadError(str(exc), code="audio_store_refused") from exc
                return stored, response.headers.get("Content-Type")
        raise DownloadError(f"more than {MAX_REDIRECTS} redirects", code="download_redirects")

    def _check_status(self, response: requests.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        if status in (401, 403):
            raise DownloadError(
                f"HTTP {status} from {urlsplit(response.url).hostname}: check "
                "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
                code="download_unauthorized",
            )
        if status in RETRY_STATUSES:
            error = TransientDownloadError(
                f"HTTP {status}" + (" (not ready yet)" if status == 404 else ""),
                code="download_not_ready" if status == 404 else "download_unavailable",
            )
            error.retry_after = _retry_after(response)
            raise error
        raise DownloadError(f"HTTP {status}", code="download_refused")

    def _body(self, response: requests.Response, deadline: float) -> Iterator[bytes]:
        size = 0
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > self.options.max_bytes:
                    raise TooLarge(size, self.options.max_bytes)
                if time.monotonic() > deadline:
                    raise TimeoutDownload(
                        f"download took longer than {self.options.timeout_s:.0f} s"
                    )
                yield chunk
        except requests.RequestException as exc:
            # requests reports a read timeout while streaming as a ConnectionError.
            if isinstance(exc, requests.Timeout) or _caused_by_timeout(exc):
                raise TimeoutDownload(
                    f"no data for {self.options.timeout_s:.0f} s; gave up"
                ) from exc
            # A dropped connection or a body shorter than its Content-Length.
            raise TransientDownloadError(f"download broke off: {type(exc).__name__}") from exc

    def delete_at_twilio(self, recording_sid: str) -> bool:
        """Delete the recording at Twilio; return whether it is gone. Never raises."""
        o = self.options
        if not self._auth:
            log.warning("not deleting %s at Twilio: no credentials", recording_sid)
            return False
        url = (
            f"{o.twilio_api_url.rstrip('/')}/2010-04-01/Accounts/{o.account_sid}"
            f"/Recordings/{recording_sid}.json"
        )
        try:
            _check_redirect(url)
            response = self.http.delete(url, auth=self._auth, timeout=o.timeout_s)
        except (requests.RequestException, DownloadError) as exc:
            log.warning("could not delete %s at Twilio: %s", recording_sid, exc)
            return False
        # 404: already gone (deleted by an earlier attempt); that is what we wanted.
        if response.status_code in (200, 204, 404):
            return True
        log.warning("Twilio answered %s to deleting %s", response.status_code, recording_sid)
        return False


class TimeoutDownload(TransientDownloadError):
    code = "download_timeout"


class TooLarge(DownloadError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"the recording is larger than the limit of {limit} bytes (at least {size})",
            code="download_too_large",
        )


def _caused_by_timeout(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, TimeoutError | urllib3.exceptions.TimeoutError):
            return True
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = inner or seen.__cause__ or seen.__context__
    return False


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
