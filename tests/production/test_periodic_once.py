"""Periodic jobs run once per minute across machines (huey's task lock and a marker).

Every consumer started with periodic tasks enqueues each due job; with Redis and several
machines one minute's job arrives several times. These tests use the queue storage of the
test's mode (the SQLite queue file, or Redis in `make test-scaleout`) and separate huey
instances, as separate machines would have.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from huey import Huey

from hotline import create_app
from hotline.runtime import runtime
from hotline.tasks import DEFAULT_QUEUE, JobRegistry, build_queue, run_periodic_once


@pytest.fixture
def machines(app: Flask, app_config: dict[str, Any]) -> Iterator[list[Flask]]:
    """Two more apps on the same database and queue storage: three machines in all."""
    others = [create_app(app_config) for _ in range(2)]
    yield [app, *others]
    for other in others:
        runtime(other).engine.dispose()


def fresh_queue(app: Flask) -> Huey:
    """A huey of its own on the app's queue storage (another connection, as another machine)."""
    return build_queue(runtime(app).settings, DEFAULT_QUEUE)


def not_at_a_minute_boundary() -> None:
    """Wait out the last seconds of a minute: the next run would be a new minute's job."""
    while time.time() % 60 > 57:
        time.sleep(0.2)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_once_per_minute_then_again_the_next_minute(app: Flask) -> None:
    huey = fresh_queue(app)
    runs: list[float] = []
    clock = Clock(1_800_000_000.0)  # the start of a minute
    job = lambda: runs.append(clock.t)  # noqa: E731
    assert run_periodic_once(huey, "probe", job, clock=clock) is None
    clock.t += 30
    run_periodic_once(huey, "probe", job, clock=clock)  # a second consumer's copy, same minute
    assert len(runs) == 1
    clock.t += 31
    run_periodic_once(huey, "probe", job, clock=clock)
    assert len(runs) == 2
    assert run_periodic_once(huey, "other", lambda: "ran", clock=clock) == "ran"


def test_two_machines_at_the_same_moment_run_the_job_once(app: Flask) -> None:
    runs: list[str] = []
    start = threading.Barrier(3)

    def slow_job(machine: str) -> None:
        runs.append(machine)
        time.sleep(0.5)

    def consumer(machine: str) -> None:
        huey = fresh_queue(app)
        start.wait()
        run_periodic_once(huey, "sweep", lambda: slow_job(machine))

    threads = [threading.Thread(target=consumer, args=(f"m{i}",)) for i in range(3)]
    not_at_a_minute_boundary()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(runs) == 1
    assert not fresh_queue(app).is_locked("periodic.sweep")


def test_a_failing_job_releases_its_lock(app: Flask) -> None:
    huey = fresh_queue(app)
    clock = Clock(1_800_000_000.0)

    def broken() -> None:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        run_periodic_once(huey, "sweep", broken, clock=clock)
    assert not huey.is_locked("periodic.sweep")
    clock.t += 60
    assert run_periodic_once(huey, "sweep", lambda: "ran", clock=clock) == "ran"


def test_a_lock_left_by_a_killed_worker_expires(app: Flask) -> None:
    huey = fresh_queue(app)
    clock = Clock(1_800_000_000.0)
    runs: list[float] = []
    # A worker took the lock and was killed (SIGKILL, power cut) before it could release it.
    huey.lock_task("periodic.sweep").acquire()
    assert run_periodic_once(huey, "sweep", lambda: runs.append(clock.t), clock=clock) is None
    clock.t += 5 * 60
    run_periodic_once(huey, "sweep", lambda: runs.append(clock.t), clock=clock)
    assert runs == []  # a job may be slow: five minutes is not dead yet
    clock.t += 15 * 60
    run_periodic_once(huey, "sweep", lambda: runs.append(clock.t), clock=clock)
    assert not huey.is_locked("periodic.sweep")  # taken as dead and released
    clock.t += 60
    run_periodic_once(huey, "sweep", lambda: runs.append(clock.t), clock=clock)
    assert runs == [clock.t]


def test_registered_periodic_jobs_run_once_across_machines(machines: list[Flask]) -> None:
    counts: dict[str, int] = {}
    for machine in machines:
        rt = runtime(machine)
        JobRegistry(rt).periodic("probe", lambda: counts.update(n=counts.get("n", 0) + 1))
    # Each machine's scheduler enqueued its copy of this minute's job; each consumer runs one.
    minute = datetime(2026, 12, 1, 3, 0)
    not_at_a_minute_boundary()
    for machine in machines:
        huey = runtime(machine).queues[DEFAULT_QUEUE]
        (task,) = [t for t in huey.read_periodic(minute) if t.name == "probe"]
        huey.execute(task)
    assert counts == {"n": 1}


def test_every_periodic_job_of_the_hotline_is_guarded(app: Flask) -> None:
    huey = runtime(app).queues[DEFAULT_QUEUE]
    at_41 = datetime(2026, 12, 1, 3, 41)  # the minute the hourly purge is due too
    jobs = huey.read_periodic(at_41)
    names = {task.name for task in jobs}
    assert {"sweep_recordings", "send_reminders", "sweep_tickets", "purge_recordings"} <= names
    for task in jobs:
        huey.execute(task)
        # Went through run_periodic_once: its marker names the minute that ran.
        state = huey.get(f"periodic.{task.name}.state", peek=True)
        assert isinstance(state, dict) and state["finished"] is not None, task.name
        assert not huey.is_locked(f"periodic.{task.name}")
