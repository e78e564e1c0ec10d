"""Decode any recording to what Whisper takes: 16 kHz mono float32 samples in [-1, 1].

PyAV links FFmpeg's libraries, so WAV (PCM, G.711 mu-law and A-law at 8 kHz, as Twilio
records), MP3, OGG/Opus and the rest decode without an `ffmpeg` binary on the machine. Every
failure is an `AudioError` with a code an officer's screen can translate: empty, unreadable, not
audio, too long.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import av.error
import numpy as np
import numpy.typing as npt

from transcription.errors import AudioError

SAMPLE_RATE = 16_000  # what every Whisper model was trained on


@dataclass(frozen=True)
class DecodedAudio:
    """Samples ready for an engine, and what the source was."""

    samples: npt.NDArray[np.float32]
    source_sample_rate: int
    codec: str
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return float(self.samples.shape[0]) / self.sample_rate

    @property
    def peak(self) -> float:
        return float(np.max(np.abs(self.samples))) if self.samples.size else 0.0

    @property
    def rms(self) -> float:
        if not self.samples.size:
            return 0.0
        return float(np.sqrt(np.mean(np.square(self.samples, dtype=np.float64))))


Source = Path | str | bytes | BinaryIO


def decode_audio(source: Source, *, max_seconds: float | None = None) -> DecodedAudio:
    """Decode `source` (a path, bytes or a binary file) to 16 kHz mono float32.

    Raises AudioError when the input is empty, not audio, corrupt, or longer than `max_seconds`.
    """
    stream_or_path = _open_source(source)
    try:
        container = av.open(stream_or_path, mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise AudioError(
            f"not a readable audio file ({_describe(exc)})", code="audio_unreadable"
        ) from exc
    with container:
        if not container.streams.audio:
            raise AudioError("the file holds no audio stream", code="audio_not_audio")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        source_rate = int(stream.codec_context.sample_rate or 0)
        declared = _declared_duration(container, stream)
        if max_seconds is not None and declared is not None and declared > max_seconds:
            raise AudioError(
                f"the recording lasts {declared:.0f} s, over the limit of {max_seconds:.0f} s",
                code="audio_too_long",
            )
        samples = _decode_stream(container, stream, max_seconds)
    if samples.size == 0:
        raise AudioError("the file holds no audio samples", code="audio_empty")
    if not np.all(np.isfinite(samples)):
        raise AudioError("the decoded audio holds invalid samples", code="audio_corrupt")
    return DecodedAudio(samples=samples, source_sample_rate=source_rate, codec=codec)


def _open_source(source: Source) -> str | BinaryIO:
    if isinstance(source, bytes | bytearray):
        if not source:
            raise AudioError("the file is empty", code="audio_empty")
        return io.BytesIO(source)
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise AudioError(f"no such file: {path}", code="audio_missing") from exc
        if path.is_dir():
            raise AudioError(f"{path} is a folder, not an audio file", code="audio_not_audio")
        if size == 0:
            raise AudioError("the file is empty", code="audio_empty")
        return str(path)
    return source


def _declared_duration(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    # Headers can lie (a truncated WAV, a VBR MP3 without a Xing frame), so this only rejects
    # early; decoding counts the real samples and enforces the limit again.
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return None


def _decode_stream(
    container: av.container.InputContainer, stream: av.AudioStream, max_seconds: float | None
) -> npt.NDArray[np.float32]:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    # One second of slack: resampler delay and codec padding are not the caller's speech.
    limit = None if max_seconds is None else math.ceil((max_seconds + 1) * SAMPLE_RATE)
    chunks: list[npt.NDArray[np.float32]] = []
    total = 0
    try:
        for frame in container.decode(stream):
            frame.pts = None  # let the resampler count; broken timestamps must not stop us
            for out in resampler.resample(frame):
                total += _append(chunks, out)
            if limit is not None and total > limit:
                raise AudioError(
                    f"the recording lasts more than {max_seconds:.0f} s",
                    code="audio_too_long",
                )
        for out in resampler.resample(None):
            total += _append(chunks, out)
    except av.error.FFmpegError as exc:
        if not chunks:
            raise AudioError(
                f"the audio data is corrupt ({_describe(exc)})", code="audio_corrupt"
            ) from exc
        # A damaged tail after good audio: keep what decoded, the caller's words are there.
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def _append(chunks: list[npt.NDArray[np.float32]], frame: av.AudioFrame) -> int:
    data = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
    chunks.append(data)
    return int(data.shape[0])


def _describe(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip() or type(exc).__name__


def encode_audio(
    samples: npt.NDArray[np.float32],
    out: Path | BinaryIO,
    *,
    codec: str = "pcm_s16le",
    rate: int = SAMPLE_RATE,
    container: str = "wav",
) -> None:
    """Write 16 kHz mono float samples as `codec` at `rate` (e.g. "pcm_mulaw" at 8000 for
    telephone audio, "libmp3lame" in an "mp3" container); for tests, the bench and demos."""
    target = str(out) if isinstance(out, Path) else out
    with av.open(target, mode="w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=rate, layout="mono")
        if not isinstance(stream, av.AudioStream):  # pragma: no cover - codec is not audio
            raise AudioError(f"{codec} is not an audio codec", code="audio_codec")
        src = np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(src, format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        context = stream.codec_context
        resampler = av.AudioResampler(format=context.format.name, layout="mono", rate=rate)
        fifo = av.AudioFifo()
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            fifo.write(converted)
        # Codecs with fixed frames (MP3: 1152 samples) need exactly that many per frame.
        chunk = context.frame_size or 1024
        while fifo.samples:
            piece = fifo.read(min(chunk, fifo.samples), partial=True)
            if piece is None:
                break
            for packet in stream.encode(piece):
                muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
