"""Jobs of the transcription subsystem, adapted from the runtime.

`transcription` knows nothing of Flask, huey or the hotline's settings: this module turns the
settings into its option dataclasses and registers its two jobs:
- "process_recording" (transcription queue): download, store, transcribe one recording; a
  transient failure is retried by huey after a backoff while the row has attempts left;
- "sweep_recordings" (periodic, light queue): wake recordings left waiting or stuck by a worker
  that died. It runs on the light queue so a long transcription never delays it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from huey.exceptions import RetryTask

from hotline.config import Settings
from hotline.runtime import Runtime
from hotline.tasks import TRANSCRIPTION_QUEUE, JobRegistry
from transcription import jobs
from transcription.download import Downloader
from transcription.options import DecodeOptions, DownloadOptions, EngineOptions, JobOptions

log = logging.getLogger(__name__)

# Seconds before huey runs a retried job; the download itself already retried with backoff.
RETRY_DELAY_S = 60


def engine_options(settings: Settings) -> EngineOptions:
    """Return the engine options the settings describe."""
    return EngineOptions(
        engine=settings.transcribe_engine,
        model=settings.whisper_model,
        device=settings.whisper_device,
        compute_type=settings.whisper_compute_type,
        cache_dir=Path(settings.model_cache_dir),
        decode=DecodeOptions(beam_size=max(1, settings.whisper_beam_size)),
    )


def job_options(settings: Settings) -> JobOptions:
    """Return the job options the settings describe."""
    return JobOptions(
        max_audio_seconds=float(settings.max_audio_seconds),
        max_attempts=max(1, settings.transcribe_retries),
        stuck_after_minutes=float(settings.stuck_after_minutes),
        download=DownloadOptions(
            allowed_hosts=tuple(settings.recording_hosts),
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            max_bytes=settings.max_recording_bytes,
            timeout_s=settings.download_timeout_s,
            retries=max(0, settings.download_retries),
            delete_at_twilio=settings.delete_twilio_recordings,
            twilio_api_url=settings.twilio_api_url,
        ),
    )


def build_context(rt: Runtime) -> jobs.JobContext:
    """Return the job context of this process (cheap: the model loads on first use)."""
    options = job_options(rt.settings)
    engine = engine_options(rt.settings)

    def wake_routing(ticket_id: int) -> None:
        # Routing is the tickets subsystem's job; only wake it if it is registered.
        queue_jobs = rt.services.get("jobs")
        if queue_jobs is not None and "route_ticket" in queue_jobs.names:
            queue_jobs.enqueue("route_ticket", ticket_id)

    return jobs.JobContext(
        sessions=rt.sessions,
        store=rt.audio_store,
        transcriber=lambda: jobs.shared_transcriber(engine),
        options=options,
        downloader=Downloader(options.download),
        on_finished=wake_routing,
    )


def register(registry: JobRegistry) -> None:
    """Register the transcription jobs."""
    rt = registry.rt
    context: list[jobs.JobContext] = []

    def ctx() -> jobs.JobContext:
        if not context:
            context.append(build_context(rt))
        return context[0]

    rt.services["transcription"] = ctx

    def process_recording(recording_id: int) -> str:
        outcome = jobs.process_recording(ctx(), recording_id)
        if outcome is jobs.Outcome.RETRY:
            # The row is back to waiting with its error; huey wakes us again later (the sweep
            # would too, this is only sooner).
            raise RetryTask(f"recording {recording_id} will be retried", delay=RETRY_DELAY_S)
        return outcome.value

    def sweep_recordings() -> int:
        woken = jobs.sweep(ctx())
        queue_jobs = rt.services["jobs"]
        for recording_id in woken:
            queue_jobs.enqueue("process_recording", recording_id)
        if woken:
            log.info("sweep woke %d recording(s): %s", len(woken), woken)
        return len(woken)

    registry.task("process_recording", process_recording, queue=TRANSCRIPTION_QUEUE)
    registry.periodic("sweep_recordings", sweep_recordings)
