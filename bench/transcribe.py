"""Benchmark the transcription pipeline against the plain engines on real Vietnamese speech.

    python bench/transcribe.py                       # the README table (about 15 min on 2 cores)
    python bench/transcribe.py --sets phone --pipelines ours,faster-plain
    python bench/transcribe.py --sweep               # decoding options, phone clips, our engine
    python bench/transcribe.py --calibrate           # confidence thresholds vs error rate

Data: ../shared/data/vi-speech (24 clips of FPT Open Speech Data, CC BY 4.0; `clean` 16 kHz,
`phone` 8 kHz mu-law as Twilio records) and "long" messages of 20-60 s made by joining phone
clips with short pauses, as a voicemail would run.

Pipelines, all on the same Whisper base weights, language "vi":
- ours: transcription.engines with the project's defaults (decode, guards, PyAV decoding);
- faster-plain: faster-whisper's `WhisperModel.transcribe` with the library's defaults;
- openai: openai-whisper's `transcribe` on a checkpoint converted from the same CTranslate2
  weights by transcription.convert (real weights, not a random ModelDimensions), with the
  library's defaults and beam 5 (like faster-plain); "openai-ours" runs openai-whisper behind
  our Transcriber with our decoding options and guards (the engines compared like for like),
  and "openai-greedy" is the library's defaults with greedy decoding.

Each pipeline runs in a fresh subprocess so its model load time and peak memory (ru_maxrss,
whole process) are its own. Error rates are corpus-level (edits summed over clips divided by
reference length) after normalising case, punctuation and spacing on both sides. RTF is
processing time over audio time (lower is faster). The machine is shared: run it when idle.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = Path(os.environ.get("HOTLINE_BENCH_DATA", ROOT.parent / "shared" / "data" / "vi-speech"))
WORK = ROOT / "var" / "bench"
LONG_TARGETS_S = (20.0, 30.0, 45.0)  # each message takes clips until it reaches its target
PAUSE_S = 0.7  # between sentences, as a caller draws breath

PIPELINES = ("ours", "faster-plain", "openai", "openai-ours")
SETS = ("clean", "phone", "long")


@dataclass(frozen=True)
class Clip:
    id: str
    path: Path
    text: str
    duration_s: float


def load_set(name: str) -> list[Clip]:
    """Return the clips of a set: "clean", "phone" or "long"."""
    manifest = [json.loads(line) for line in (DATA / "manifest.jsonl").read_text().splitlines()]
    if name in ("clean", "phone"):
        return [Clip(m["id"], DATA / m[name], m["text"], m["duration_s"]) for m in manifest]
    if name == "long":
        return build_long(manifest)
    raise SystemExit(f"unknown set {name}")


def build_long(manifest: list[dict[str, Any]]) -> list[Clip]:
    """Join phone clips into 20-60 s messages (8 kHz mu-law, like Twilio's), cached in var/."""
    import numpy as np

    from transcription.audio import SAMPLE_RATE, decode_audio, encode_audio

    out_dir = WORK / "long"
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: list[list[dict[str, Any]]] = [[]]
    for m in manifest:
        target = LONG_TARGETS_S[(len(groups) - 1) % len(LONG_TARGETS_S)]
        if sum(x["duration_s"] + PAUSE_S for x in groups[-1]) >= target:
            groups.append([])
        groups[-1].append(m)
    if sum(x["duration_s"] for x in groups[-1]) < 15 and len(groups) > 1:
        groups[-2].extend(groups.pop())
    rng = np.random.default_rng(7)
    clips = []
    for i, group in enumerate(groups):
        path = out_dir / f"long_{i}.wav"
        if not path.exists():
            parts = []
            for m in group:
                parts.append(decode_audio(DATA / m["phone"]).samples)
                # A quiet line between sentences (about -60 dBFS), not digital zero.
                parts.append(
                    (rng.standard_normal(int(PAUSE_S * SAMPLE_RATE)) * 1e-3).astype(np.float32)
                )
            encode_audio(np.concatenate(parts), path, codec="pcm_mulaw", rate=8000)
        duration = sum(m["duration_s"] + PAUSE_S for m in group)
        text = " ".join(m["text"] for m in group)
        clips.append(Clip(f"long_{i}", path, text, round(duration, 2)))
    return clips


# --- the worker: one pipeline, one set, in its own process -------------------------------------


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    clips = load_set(spec["set"])[: spec.get("limit") or None]
    threads = int(spec.get("threads", 2))
    started = time.perf_counter()
    transcribe = make_pipeline(spec["pipeline"], spec, threads)
    # The first call also pays for lazy loading; count it as load time, as a worker would.
    load_s = time.perf_counter() - started
    rows = []
    for clip in clips:
        t0, c0 = time.perf_counter(), time.process_time()
        text, extra = transcribe(clip)
        rows.append(
            {
                "cpu_s": time.process_time() - c0,
                "id": clip.id,
                "ref": clip.text,
                "hyp": text,
                "duration_s": clip.duration_s,
                "processing_s": time.perf_counter() - t0,
                **extra,
            }
        )
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"spec": spec, "load_s": load_s, "rows": rows, "peak_mb": rss_kb / 1024}


def make_pipeline(name: str, spec: dict[str, Any], threads: int) -> Any:
    from transcription.audio import decode_audio
    from transcription.models import resolve_model
    from transcription.options import DecodeOptions, EngineOptions, default_cache_dir

    cache = Path(spec.get("cache_dir") or default_cache_dir())
    if name in ("ours", "openai-ours"):
        from transcription.engines import make_transcriber

        decode = replace(DecodeOptions(), **spec.get("decode", {}))
        options = EngineOptions(
            engine="openai-whisper" if name == "openai-ours" else "faster-whisper",
            compute_type=spec.get("compute_type", "auto"),
            cpu_threads=threads,
            cache_dir=cache,
            decode=decode,
        )
        engine = make_transcriber(options)
        engine.load()

        def ours(clip: Clip) -> tuple[str, dict[str, Any]]:
            result = engine.transcribe(decode_audio(clip.path), language="vi")
            segs = result.segments
            total = sum(max(s.end - s.start, 0.01) for s in segs) or 1.0
            mean = sum(s.avg_logprob * max(s.end - s.start, 0.01) for s in segs) / total
            return result.text, {
                "confidence": result.confidence.value,
                "mean_logprob": mean,
                "notes": list(result.notes),
            }

        return ours
    ref = resolve_model("base", cache)
    if name == "faster-plain":
        from faster_whisper import WhisperModel

        model = WhisperModel(ref.location, device="cpu", cpu_threads=threads)

        def plain(clip: Clip) -> tuple[str, dict[str, Any]]:
            segments, _ = model.transcribe(str(clip.path), language="vi")
            return " ".join(s.text.strip() for s in segments), {}

        return plain
    if name in ("openai", "openai-greedy"):
        import torch
        from whisper.model import ModelDimensions, Whisper

        from transcription.engines.openai_engine import checkpoint_for

        torch.set_num_threads(threads)
        checkpoint = torch.load(checkpoint_for(ref, cache), weights_only=True)
        model = Whisper(ModelDimensions(**checkpoint["dims"]))
        model.load_state_dict(checkpoint["model_state_dict"])
        model.eval()
        beam = 5 if name == "openai" else DecodeOptions().beam_size
        kwargs: dict[str, Any] = {"beam_size": beam, "best_of": 5} if beam > 1 else {}

        def openai(clip: Clip) -> tuple[str, dict[str, Any]]:
            with torch.inference_mode():
                out = model.transcribe(
                    decode_audio(clip.path).samples,
                    language="vi",
                    fp16=False,
                    verbose=None,
                    **kwargs,
                )
            return str(out["text"]).strip(), {}

        return openai
    raise SystemExit(f"unknown pipeline {name}")


# --- the parent: run workers, print tables -------------------------------------------------------


def spawn(spec: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ)
    threads = str(spec.get("threads", 2))
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, CT2_USE_MKL="0")
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"worker failed: {spec}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    from transcription.text import corpus_rates

    rows = result["rows"]
    wer, cer = corpus_rates((r["ref"], r["hyp"]) for r in rows)
    audio = sum(r["duration_s"] for r in rows)
    proc = sum(r["processing_s"] for r in rows)
    cpu = sum(r.get("cpu_s", 0.0) for r in rows)
    return {
        "cpu_rtf": cpu / audio,
        "clips": len(rows),
        "audio_s": audio,
        "wer": wer,
        "cer": cer,
        "rtf": proc / audio,
        "proc_s": proc,
        "load_s": result["load_s"],
        "peak_mb": result["peak_mb"],
    }


def table(results: list[tuple[str, dict[str, Any]]]) -> str:
    lines = [
        "| pipeline | set | clips | audio s | WER | CER | RTF | CPU s per audio s | total s "
        "| load s | peak MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, result in results:
        s = summarize(result)
        lines.append(
            f"| {label} | {result['spec']['set']} | {s['clips']} | {s['audio_s']:.0f} | "
            f"{s['wer']:.3f} | {s['cer']:.3f} | {s['rtf']:.3f} | {s['cpu_rtf']:.2f} | "
            f"{s['proc_s']:.1f} | "
            f"{s['load_s']:.1f} | {s['peak_mb']:.0f} |"
        )
    return "\n".join(lines)


FALLBACK = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
DOMAIN_PROMPT = (
    "Đường dây nóng hỗ trợ doanh nghiệp: thuế, hải quan, đăng ký kinh doanh, đất đai, "
    "bảo hiểm xã hội, giấy phép xây dựng."
)

# Each variant changes one thing from our defaults, on the phone clips, to justify the default.
SWEEP: list[tuple[str, dict[str, Any]]] = [
    ("defaults", {}),
    ("greedy (beam 1)", {"decode": {"beam_size": 1}}),
    ("temperature fallback (Whisper's default)", {"decode": {"temperatures": FALLBACK}}),
    ("fallback only on loops", {"decode": {"temperatures": FALLBACK, "log_prob_threshold": None}}),
    ("no token cap", {"decode": {"max_tokens_per_second": None}}),
    ("Whisper's no-speech rule", {"decode": {"no_speech_threshold": 0.6}}),
    ("no speech check", {"decode": {"speech_check": False}}),
    ("condition on previous text", {"decode": {"condition_on_previous_text": True}}),
    ("Silero VAD cutting the audio", {"decode": {"vad_filter": True}}),
    ("domain prompt", {"decode": {"initial_prompt": DOMAIN_PROMPT}}),
    ("float32", {"compute_type": "float32"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description="Transcription benchmark")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="first N clips of each set")
    parser.add_argument("--sweep", action="store_true", help="compare decoding options")
    parser.add_argument("--sweep-sets", default="phone")
    parser.add_argument("--only", default="", help="sweep variants to run, separated by ;")
    parser.add_argument("--calibrate", action="store_true", help="confidence vs error rate")
    parser.add_argument("--json", type=Path, help="also write raw results here")
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker)), ensure_ascii=False))
        return
    base = {"threads": args.threads, "limit": args.limit}
    results: list[tuple[str, dict[str, Any]]] = []
    if args.sweep:
        wanted = {w.strip() for w in args.only.split(";") if w.strip()}
        for set_name in args.sweep_sets.split(","):
            for label, change in SWEEP:
                if wanted and label not in wanted:
                    continue
                spec = {**base, "pipeline": "ours", "set": set_name, **change}
                results.append((label, spawn(spec)))
                print(table(results[-1:]).splitlines()[-1], flush=True)
    elif args.calibrate:
        for set_name in ("clean", "phone"):
            results.append(("ours", spawn({**base, "pipeline": "ours", "set": set_name})))
        print(calibration(results))
    else:
        for set_name in args.sets.split(","):
            for pipeline in args.pipelines.split(","):
                results.append((pipeline, spawn({**base, "pipeline": pipeline, "set": set_name})))
                print(table(results[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps([r for _, r in results], ensure_ascii=False, indent=1))


def calibration(results: list[tuple[str, dict[str, Any]]]) -> str:
    from transcription.text import cer

    rows = [r for _, res in results for r in res["rows"]]
    rows.sort(key=lambda r: r["mean_logprob"])
    lines = ["| clip | mean log-prob | confidence | CER |", "|---|---:|---|---:|"]
    for r in rows:
        lines.append(
            f"| {r['id']} | {r['mean_logprob']:.2f} | {r['confidence']} | "
            f"{cer(r['ref'], r['hyp']):.2f} |"
        )
    by_flag: dict[str, list[float]] = {}
    for r in rows:
        by_flag.setdefault(r["confidence"], []).append(cer(r["ref"], r["hyp"]))
    lines.append("")
    for flag, values in sorted(by_flag.items()):
        lines.append(f"{flag}: {len(values)} clips, mean CER {sum(values) / len(values):.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
