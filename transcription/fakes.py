"""A transcriber for tests and demos that needs no model: it decodes nothing it is not given."""

from __future__ import annotations

from storage.models import Confidence
from transcription.audio import DecodedAudio
from transcription.guards import is_silent
from transcription.protocol import Segment, TranscriptResult
from transcription.results import no_speech_result


class FakeTranscriber:
    """Returns a fixed Vietnamese sentence for any audio that is not silent."""

    def __init__(self, text: str = "tôi muốn hỏi về thủ tục đăng ký kinh doanh") -> None:
        self.text = text
        self.calls = 0
        self.loaded = False

    @property
    def engine(self) -> str:
        return "fake"

    @property
    def model_label(self) -> str:
        return "fake"

    def load(self) -> None:
        self.loaded = True

    def transcribe(self, audio: DecodedAudio, *, language: str = "vi") -> TranscriptResult:
        self.calls += 1
        if is_silent(audio):
            return no_speech_result(
                audio,
                language=language,
                engine="fake",
                model="fake",
                processing_s=0.0,
                note="audio below silence level",
            )
        end = round(audio.duration_s, 2)
        segment = Segment(start=0.0, end=end, text=self.text, avg_logprob=-0.2, no_speech_prob=0.01)
        return TranscriptResult(
            text=self.text,
            language=language,
            segments=(segment,),
            duration_s=audio.duration_s,
            processing_s=0.0,
            engine="fake",
            model="fake",
            confidence=Confidence.HIGH,
        )
