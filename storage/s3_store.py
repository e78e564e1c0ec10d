"""Recordings in an S3-compatible bucket (AWS S3, MinIO, Ceph ...): one store for many machines.

The web processes, the light workers and the transcription machines then all reach the same
audio. Configured by `HOTLINE_AUDIO_STORE_URL=s3://bucket/prefix` (and `HOTLINE_S3_ENDPOINT_URL`
for a server other than AWS); credentials and region come from boto3's usual sources
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, an instance role ...).

- `put` spools the bytes to a local temp file while hashing them, then uploads the file: S3
  makes an object visible only once it is complete, so a dropped download or a crash never
  leaves a partial object under a final key. The sha256 travels as object metadata.
- `path` (decoders and `send_file` want a file) keeps a local copy in `cache_dir`, written
  atomically and checked against the stored sha256; the cache is disposable.
- A bucket that cannot be reached raises `OSError`, as a full disk does for the local store:
  the caller retries later. `AudioStoreError` means the request itself is wrong (a bad key,
  a missing object, a copy whose checksum does not match).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from storage.audio_store import CHUNK_BYTES, AudioStoreError, StoredAudio, check_key

log = logging.getLogger(__name__)

SHA256_META = "sha256"
# The local copies of recordings; played or transcribed ones are fetched again when evicted.
DEFAULT_CACHE_BYTES = 2 * 1024**3
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Unavailable(OSError):
    """The bucket could not be reached or refused to work; try again later."""


def parse_store_url(url: str) -> tuple[str, str]:
    """Return (bucket, prefix) of `s3://bucket/prefix`, or raise ValueError."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
    prefix = parts.path.strip("/")
    if prefix:
        check_key(prefix)
    return parts.netloc, prefix


def make_s3_client(endpoint_url: str = "", **options: Any) -> Any:
    """Return a boto3 S3 client (nothing connects until the first request)."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 4, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        # Path-style addressing works with every S3-compatible server on any host name.
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url or None, config=config, **options
    )


class S3AudioStore:
    """Files as objects `prefix/key` in one bucket, with a local read cache."""

    def __init__(
        self,
        bucket: str,
        *,
        cache_dir: Path,
        prefix: str = "",
        client: Any = None,
        endpoint_url: str = "",
        max_cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.cache_dir = cache_dir
        self.endpoint_url = endpoint_url
        self.max_cache_bytes = max_cache_bytes
        self._client = client
        self._lock = threading.Lock()

    @classmethod
    def from_url(
        cls, url: str, *, cache_dir: Path, endpoint_url: str = "", client: Any = None
    ) -> S3AudioStore:
        """Return the store that `s3://bucket/prefix` names."""
        bucket, prefix = parse_store_url(url)
        return cls(
            bucket, prefix=prefix, cache_dir=cache_dir, endpoint_url=endpoint_url, client=client
        )

    @property
    def client(self) -> Any:
        # Built on first use: creating a boto3 client reads its service models (slow), and a
        # web process that never touches audio should not pay for it.
        with self._lock:
            if self._client is None:
                self._client = make_s3_client(self.endpoint_url)
            return self._client

    def object_key(self, key: str) -> str:
        """Return the bucket's object key for a store key."""
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # --- the AudioStore protocol -----------------------------------------------------------------

    def put(self, key: str, chunks: Iterable[bytes]) -> StoredAudio:
        name = self.object_key(key)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.cache_dir, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            sha256 = digest.hexdigest()
            self._call(
                "upload",
                name,
                self.client.upload_file,
                tmp_name,
                self.bucket,
                name,
                ExtraArgs={"Metadata": {SHA256_META: sha256}},
            )
            # What was just uploaded is what a worker reads next: keep it as the local copy.
            local = self._cache_path(key)
            local.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, local)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        return StoredAudio(key=key, sha256=sha256, size_bytes=size)

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def path(self, key: str) -> Path:
        local = self._cache_path(key)
        if local.is_file():
            # Another machine may have deleted the object (retention): the bucket is the truth,
            # a HEAD request per use is cheap next to decoding or streaming the file.
            head = self._head(key)
            if head is not None and int(head["ContentLength"]) == local.stat().st_size:
                return local
            with contextlib.suppress(OSError):
                local.unlink()
            if head is None:
                raise AudioStoreError(f"no audio stored under {key!r}")
        name = self.object_key(key)
        response = self._call(
            "download", name, self.client.get_object, Bucket=self.bucket, Key=name
        )
        expected = (response.get("Metadata") or {}).get(SHA256_META)
        local.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=local.parent, prefix=".download-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, contextlib.closing(response["Body"]) as body:
                for chunk in iter(lambda: body.read(CHUNK_BYTES), b""):
                    out.write(chunk)
                    digest.update(chunk)
            if expected and digest.hexdigest() != expected:
                raise AudioStoreError(f"the copy of {key!r} does not match its sha256")
            os.replace(tmp_name, local)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        self._prune_cache(keep=local)
        return local

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise AudioStoreError(f"no audio stored under {key!r}")
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def delete(self, key: str) -> None:
        name = self.object_key(key)
        # S3 answers 204 for a missing object too: deleting twice is not an error.
        self._call("delete", name, self.client.delete_object, Bucket=self.bucket, Key=name)
        with contextlib.suppress(OSError):
            self._cache_path(key).unlink()

    # --- helpers ----------------------------------------------------------------------------------

    def _cache_path(self, key: str) -> Path:
        return self.cache_dir / check_key(key)

    def _head(self, key: str) -> dict[str, Any] | None:
        name = self.object_key(key)
        try:
            head: dict[str, Any] = self._call(
                "inspect", name, self.client.head_object, Bucket=self.bucket, Key=name
            )
        except AudioStoreError:
            return None
        return head

    def _call(self, what: str, name: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return method(*args, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in _MISSING:
                raise AudioStoreError(f"no audio stored under {name!r}") from exc
            raise S3Unavailable(
                f"could not {what} {name!r} in bucket {self.bucket}: {code}"
            ) from exc
        except (BotoCoreError, OSError) as exc:
            raise S3Unavailable(
                f"could not {what} {name!r} in bucket {self.bucket}: {type(exc).__name__}: {exc}"
            ) from exc
        except Exception as exc:
            # boto3's transfer manager wraps errors of its worker threads in its own types.
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ClientError | BotoCoreError | OSError):
                raise S3Unavailable(
                    f"could not {what} {name!r} in bucket {self.bucket}: {cause}"
                ) from exc
            raise

    def _prune_cache(self, *, keep: Path) -> None:
        """Remove the least recently used local copies above `max_cache_bytes`."""
        files: list[tuple[float, int, Path]] = []
        total = 0
        for folder, _dirs, names in os.walk(self.cache_dir):
            for name in names:
                path = Path(folder) / name
                with contextlib.suppress(OSError):
                    stat = path.stat()
                    files.append((stat.st_atime, stat.st_size, path))
                    total += stat.st_size
        if total <= self.max_cache_bytes:
            return
        for _atime, size, path in sorted(files):
            if total <= self.max_cache_bytes:
                break
            if path == keep or path.name.endswith(".part"):
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
