"""The task queue: huey, embedded (SQLite) by default, Redis when REDIS_URL is set.

Two queues, so transcription can run on machines of its own (a GPU box) while the web and the
light jobs run elsewhere:
- "default": routing, reminders, notifications, sweeps (periodic tasks run here);
- "transcription": downloading and transcribing recordings.

The database row's status is the truth and a job is only a wake-up call: every job re-reads its
row, returns if there is nothing to do, and the periodic sweep re-enqueues anything that a lost
message or a killed worker left behind. Jobs are registered here, in the composition root,
because only this package may know both the queue and every domain package.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.api import Task
from huey.exceptions import TaskLockedException

from hotline.config import Settings
from hotline.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
TRANSCRIPTION_QUEUE = "transcription"
QUEUES = (DEFAULT_QUEUE, TRANSCRIPTION_QUEUE)


def build_queue(settings: Settings, name: str) -> Huey:
    """Return the huey instance for queue `name`; nothing connects until first use."""
    huey_name = f"hotline-{name}"
    if settings.redis_url:
        return RedisHuey(huey_name, url=settings.redis_url, immediate=settings.queue_immediate)
    return SqliteHuey(
        huey_name,
        filename=settings.queue_path,
        immediate=settings.queue_immediate,
        # The default timeout (5 s) is short when the web process and a busy worker share the
        # file; waiting is better than losing an enqueue.
        timeout=30,
    )


class Jobs:
    """What the edges call to wake the workers: `enqueue("process_recording", 42)`."""

    def __init__(self, tasks: dict[str, Task]) -> None:
        self._tasks = tasks

    def enqueue(self, job: str, *args: Any) -> bool:
        """Wake the worker for `job`; return False (and log) if the queue is unreachable.

        Never raises: the row is committed already and the sweep will find it.
        """
        try:
            self._tasks[job](*args)
        except KeyError:
            raise
        except Exception:
            log.exception("could not enqueue %s%r; the periodic sweep will pick it up", job, args)
            return False
        return True

    @property
    def names(self) -> list[str]:
        return sorted(self._tasks)


JobFunction = Callable[..., Any]


class JobRegistry:
    """Collects the jobs of every subsystem and binds them to their queue."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.tasks: dict[str, Task] = {}

    def task(
        self,
        name: str,
        fn: JobFunction,
        *,
        queue: str = DEFAULT_QUEUE,
        retries: int = 0,
        retry_delay: int = 0,
    ) -> Task:
        """Register `fn` as job `name`; it runs on the worker with the same arguments."""
        registered: Task = self.rt.queues[queue].task(
            name=name, retries=retries, retry_delay=retry_delay
        )(fn)
        self.tasks[name] = registered
        return registered

    def periodic(
        self,
        name: str,
        fn: Callable[[], Any],
        *,
        schedule: Any = None,
        queue: str = DEFAULT_QUEUE,
    ) -> None:
        """Run `fn` on a schedule (default: every minute), once per minute across machines.

        Every consumer started with periodic tasks enqueues each due job, so with Redis and
        several machines one minute's job arrives several times: `run_periodic_once` lets the
        first run it and the others skip.
        """
        huey = self.rt.queues[queue]

        @functools.wraps(fn)
        def once() -> Any:
            return run_periodic_once(huey, name, fn)

        huey.periodic_task(schedule or crontab(), name=name)(once)


# A periodic job killed while holding its lock would block itself for good (huey's locks do not
# expire on SQLite, nor on Redis before 7.4): a lock held longer than this is a dead worker's.
PERIODIC_STALE_AFTER_S = 15 * 60


def run_periodic_once(
    huey: Huey,
    name: str,
    fn: Callable[[], Any],
    *,
    clock: Callable[[], float] = time.time,
    stale_after_s: float = PERIODIC_STALE_AFTER_S,
) -> Any:
    """Run periodic job `name` unless it is running elsewhere or already ran this minute.

    huey's task lock keeps two consumers from running the job at once; a marker in huey's
    key-value store, read and written under the lock, says which minute ran last. Returns
    `fn`'s result, or None when skipped.
    """
    lock = huey.lock_task(f"periodic.{name}")
    marker = f"periodic.{name}.state"
    started = clock()
    minute = int(started // 60)
    try:
        lock.acquire()
    except TaskLockedException:
        state = huey.get(marker, peek=True)
        if state is None:
            # Locked before any run left a marker: note when we first saw it, so a lock whose
            # holder died on its very first run still expires.
            huey.put(marker, {"minute": None, "started": started, "finished": started})
        since = _held_since(state, started)
        if started - since > stale_after_s:
            log.warning(
                "periodic job %s: lock held for %.0f s, taken as a dead worker's; released",
                name,
                started - since,
            )
            lock.release()
        else:
            log.info("periodic job %s is running elsewhere; skipped", name)
        return None
    try:
        state = huey.get(marker, peek=True)
        if isinstance(state, dict) and state.get("minute") == minute:
            log.info("periodic job %s already ran this minute; skipped", name)
            return None
        huey.put(marker, {"minute": minute, "started": started, "finished": None})
        result = fn()
        huey.put(marker, {"minute": minute, "started": started, "finished": clock()})
        return result
    finally:
        lock.release()


def _held_since(state: Any, default: float) -> float:
    # While a run holds the lock its marker names its start; just after the acquire it still
    # names the previous run, whose end is the earliest the holder can have started.
    if not isinstance(state, dict):
        return default
    value = state.get("started") if state.get("finished") is None else state.get("finished")
    return float(value) if isinstance(value, int | float) else default


def init_app(app: Flask, rt: Runtime) -> None:
    """Create the queues, register every job, and expose `Jobs` to the edges."""
    for name in QUEUES:
        rt.queues[name] = build_queue(rt.settings, name)
    registry = JobRegistry(rt)
    # Each subsystem wires its domain jobs in a module of its own (adapting the runtime's
    # objects to the domain functions' arguments), so the sections never collide.
    from hotline import wiring_ivr, wiring_production, wiring_tickets, wiring_transcription

    wiring_transcription.register(registry)
    wiring_tickets.register(registry)
    wiring_ivr.register(registry)
    wiring_production.register(registry)
    jobs = Jobs(registry.tasks)
    rt.services["jobs"] = jobs
    app.extensions["jobs"] = jobs


def drain(huey: Huey, *, limit: int = 1000) -> int:
    """Run every task waiting in `huey` in this thread; return how many ran.

    For tests and `hotline worker --once`: the same storage and the same task code as the
    consumer, without its threads and signal handlers.
    """
    ran = 0
    while ran < limit:
        task = huey.dequeue()
        if task is None:
            break
        huey.execute(task)
        ran += 1
    return ran
