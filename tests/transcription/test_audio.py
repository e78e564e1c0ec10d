"""Decoding every format a recording may come in, and a clear error for everything else."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from transcription.audio import SAMPLE_RATE, decode_audio, encode_audio
from transcription.errors import AudioError


def tone(seconds: float, freq: float = 440.0, level: float = 0.3) -> np.ndarray[Any, Any]:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_clean_pcm_and_phone_mulaw_clips_decode_to_16k_mono(clips: list[Any]) -> None:
    clip = clips[0]
    clean = decode_audio(clip.clean)
    phone = decode_audio(clip.phone)
    assert (clean.codec, clean.source_sample_rate) == ("pcm_s16le", 16000)
    assert (phone.codec, phone.source_sample_rate) == ("pcm_mulaw", 8000)
    for audio in (clean, phone):
        assert audio.sample_rate == SAMPLE_RATE and audio.samples.dtype == np.float32
        assert audio.samples.ndim == 1
        assert audio.duration_s == pytest.approx(clip.duration_s, abs=0.01)
        assert 0.05 < audio.peak <= 1.01  # real speech, scaled to [-1, 1]
    # The same speech, aligned in time: the phone version follows the clean one closely.
    # (The telephone path of the shared data inverts polarity, so compare the magnitude.)
    n = min(clean.samples.size, phone.samples.size)
    corr = np.corrcoef(clean.samples[:n], phone.samples[:n])[0, 1]
    assert abs(corr) > 0.8


@pytest.mark.parametrize(
    ("codec", "rate", "container", "suffix", "expected_codec"),
    [
        ("pcm_mulaw", 8000, "wav", ".wav", "pcm_mulaw"),
        ("pcm_alaw", 8000, "wav", ".wav", "pcm_alaw"),
        ("pcm_s16le", 8000, "wav", ".wav", "pcm_s16le"),
        ("libmp3lame", 22050, "mp3", ".mp3", "mp3float"),
        ("libopus", 48000, "ogg", ".ogg", "opus"),
    ],
)
def test_formats_round_trip(
    tmp_path: Path, codec: str, rate: int, container: str, suffix: str, expected_codec: str
) -> None:
    signal = tone(2.0)
    path = tmp_path / f"tone{suffix}"
    encode_audio(signal, path, codec=codec, rate=rate, container=container)
    audio = decode_audio(path)
    assert audio.codec == expected_codec and audio.source_sample_rate == rate
    assert audio.duration_s == pytest.approx(2.0, abs=0.08)  # codec padding, MP3's frames
    # The tone survives: its level and its frequency.
    assert audio.rms == pytest.approx(0.3 / np.sqrt(2), rel=0.1)
    spectrum = np.abs(np.fft.rfft(audio.samples[:SAMPLE_RATE]))
    assert abs(np.argmax(spectrum) - 440) <= 2  # 1 Hz bins over one second


def test_decodes_bytes_and_file_objects(clips: list[Any]) -> None:
    data = clips[0].phone.read_bytes()
    assert decode_audio(data).duration_s == pytest.approx(clips[0].duration_s, abs=0.01)
    with clips[0].phone.open("rb") as fh:
        assert decode_audio(fh).codec == "pcm_mulaw"


def test_stereo_is_mixed_to_mono(tmp_path: Path) -> None:
    import av

    path = tmp_path / "stereo.wav"
    left, right = tone(1.0, 300), tone(1.0, 300)
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=SAMPLE_RATE, layout="stereo")
        frame = av.AudioFrame.from_ndarray(
            np.stack([left, right]).astype(np.float32), format="fltp", layout="stereo"
        )
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    audio = decode_audio(path)
    assert audio.samples.ndim == 1 and audio.duration_s == pytest.approx(1.0, abs=0.01)


ErrorCase = Callable[[Path], Any]


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda p: p.write_bytes(b""), "audio_empty"),
        (lambda p: p.write_text("<Response><Say>not audio</Say></Response>"), "audio_unreadable"),
        (lambda p: p.write_bytes(os.urandom(4096)), "audio_unreadable"),
        # A WAV header that promises data and has none.
        (
            lambda p: p.write_bytes(
                b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x07\x00\x01\x00"
                b"\x40\x1f\x00\x00\x40\x1f\x00\x00\x01\x00\x08\x00"
                b"data\x00\x00\x00\x00"
            ),
            "audio_empty",
        ),
    ],
    ids=["empty", "xml", "random-bytes", "header-without-data"],
)
def test_bad_files_get_a_clear_error(tmp_path: Path, make: ErrorCase, code: str) -> None:
    path = tmp_path / "message.wav"
    make(path)
    with pytest.raises(AudioError) as caught:
        decode_audio(path)
    assert caught.value.code == code
    assert caught.value.describe().startswith(code + ": ")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such file") as missing:
        decode_audio(tmp_path / "nope.wav")
    assert missing.value.code == "audio_missing"
    with pytest.raises(AudioError) as folder:
        decode_audio(tmp_path)
    assert folder.value.code == "audio_not_audio"


def test_a_file_without_audio_stream(tmp_path: Path) -> None:
    import av

    path = tmp_path / "video.mkv"
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("ffv1", rate=1)
        stream.width, stream.height = 16, 16
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(AudioError) as caught:
        decode_audio(path)
    assert caught.value.code == "audio_not_audio"


def test_too_long_is_refused_from_the_header(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    encode_audio(tone(5.0), path, codec="pcm_mulaw", rate=8000)
    with pytest.raises(AudioError, match="over the limit of 3 s") as caught:
        decode_audio(path, max_seconds=3)
    assert caught.value.code == "audio_too_long"
    assert decode_audio(path, max_seconds=6).duration_s == pytest.approx(5.0, abs=0.01)


class Pipe:
    """A stream that can only be read forward, like an upload or a socket."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)


def test_too_long_is_refused_while_decoding_when_nothing_declares_a_length(
    tmp_path: Path,
) -> None:
    # An MP3 read from a pipe has no duration in any header: only counting samples finds out.
    path = tmp_path / "long.mp3"
    encode_audio(tone(6.0), path, codec="libmp3lame", rate=16000, container="mp3")
    with pytest.raises(AudioError, match="lasts more than 3 s") as caught:
        decode_audio(Pipe(path.read_bytes()), max_seconds=3)
    assert caught.value.code == "audio_too_long"
    assert decode_audio(Pipe(path.read_bytes()), max_seconds=8).duration_s == pytest.approx(
        6.0, abs=0.1
    )


def test_truncated_file_keeps_the_audio_before_the_cut(clips: list[Any]) -> None:
    data = clips[0].phone.read_bytes()
    half = decode_audio(data[: len(data) // 2])
    assert half.duration_s == pytest.approx(clips[0].duration_s / 2, abs=0.05)
