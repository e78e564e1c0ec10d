"""The CTranslate2 -> openai-whisper converter, and the openai engine on the same weights."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from transcription.convert import ct2_to_openai_state, read_ct2_model
from transcription.errors import ModelError
from transcription.models import ensure_bundled_model
from transcription.options import DecodeOptions, EngineOptions

HAVE_OPENAI = (
    importlib.util.find_spec("whisper") is not None
    and importlib.util.find_spec("torch") is not None
)
needs_openai = pytest.mark.skipif(
    not HAVE_OPENAI,
    reason="openai-whisper is not installed (make openai-whisper: CPU torch, no triton)",
)


@pytest.fixture(scope="module")
def ct2(model_cache: Path) -> Any:
    return read_ct2_model(ensure_bundled_model(model_cache) / "model.bin")


def test_reads_every_variable_of_the_bundled_model(ct2: Any) -> None:
    assert ct2.spec == "WhisperSpec"
    assert ct2.variables["decoder/embeddings/weight"].shape == (51865, 512)
    # The output projection is the token embedding (tied weights), stored once as an alias.
    assert ct2.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}


def test_state_dict_undoes_the_fusions(ct2: Any) -> None:
    dims, state = ct2_to_openai_state(ct2)
    assert dims == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 512,
        "n_audio_head": 8,
        "n_audio_layer": 6,
        "n_vocab": 51865,
        "n_text_ctx": 448,
        "n_text_state": 512,
        "n_text_head": 8,
        "n_text_layer": 6,
    }
    fused = ct2.variables["encoder/layer_3/self_attention/linear_0/weight"]
    assert np.array_equal(state["encoder.blocks.3.attn.query.weight"], fused[:512])
    assert np.array_equal(state["encoder.blocks.3.attn.key.weight"], fused[512:1024])
    assert np.array_equal(state["encoder.blocks.3.attn.value.weight"], fused[1024:])
    cross_kv = ct2.variables["decoder/layer_5/attention/linear_1/weight"]
    assert np.array_equal(state["decoder.blocks.5.cross_attn.value.weight"], cross_kv[512:])
    # Whisper's key projections have no bias, so none is produced.
    assert not any(k.endswith("key.bias") for k in state)
    # Every tensor openai-whisper's base model has: 6+6 blocks, and the rest.
    assert len(state) == 4 + 6 * 15 + 2 + 3 + 6 * 24 + 2


def test_a_key_bias_means_the_mapping_is_wrong(ct2: Any) -> None:
    name = "decoder/layer_0/self_attention/linear_0/bias"
    bias = ct2.variables[name].copy()
    bias[600] = 0.5  # inside the key's third of the fused bias
    broken = type(ct2)(ct2.spec, ct2.revision, {**ct2.variables, name: bias}, ct2.aliases)
    with pytest.raises(ModelError, match="non-zero bias"):
        ct2_to_openai_state(broken)


def test_truncated_or_foreign_files_are_refused(tmp_path: Path, model_cache: Path) -> None:
    source = ensure_bundled_model(model_cache) / "model.bin"
    cut = tmp_path / "model.bin"
    with source.open("rb") as fh:
        cut.write_bytes(fh.read(1_000_000))
    with pytest.raises(ModelError, match="truncated"):
        read_ct2_model(cut)
    cut.write_bytes(struct.pack("<I", 99) + b"\0" * 16)
    with pytest.raises(ModelError, match="binary version 99"):
        read_ct2_model(cut)


@pytest.mark.openai_whisper
@pytest.mark.whisper
@needs_openai
def test_openai_engine_on_converted_weights_matches_faster_whisper(
    model_cache: Path, clips: list[Any], decoded: Any
) -> None:
    from transcription.engines.faster import FasterWhisperTranscriber
    from transcription.engines.openai_engine import OpenAIWhisperTranscriber

    # Deterministic decoding (greedy, no sampled fallback) and the same float32 arithmetic:
    # the same weights must then give the same words.
    decode = DecodeOptions(beam_size=1, temperatures=(0.0,))
    common = {"cache_dir": model_cache, "cpu_threads": 2, "decode": decode}
    reference = FasterWhisperTranscriber(EngineOptions(compute_type="float32", **common))
    openai = OpenAIWhisperTranscriber(EngineOptions(engine="openai-whisper", **common))
    for clip in clips[:1]:
        audio = decoded(clip.phone)
        ours = openai.transcribe(audio, language="vi")
        theirs = reference.transcribe(audio, language="vi")
        assert ours.engine == "openai-whisper" and ours.text
        assert ours.text == theirs.text
        assert [round(s.end) for s in ours.segments] == [round(s.end) for s in theirs.segments]
    converted = model_cache / f"{ensure_bundled_model(model_cache).name}.openai.pt"
    assert converted.is_file()  # converted once into the cache, reused next time
