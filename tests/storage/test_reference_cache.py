"""The per-process cache of reference data: reused while fresh, reloaded after any change."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from hotline.runtime import Runtime
from storage.models import Holiday, OfficeHours, Topic
from storage.reference_cache import ReferenceCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def topic_names(db) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {t.code: t.name_vi for t in db.scalars(select(Topic))}


def test_a_value_is_reused_while_fresh_and_reloaded_when_old(rt: Runtime) -> None:
    clock = FakeClock()
    cache = ReferenceCache(max_age_s=30, clock=clock)
    loads: list[int] = []

    def load(db: object) -> int:
        loads.append(1)
        return len(loads)

    with rt.sessions() as db:
        assert cache.get("n", db, load) == 1
        clock.now += 29
        assert cache.get("n", db, load) == 1
        clock.now += 2
        assert cache.get("n", db, load) == 2
        cache.clear()
        assert cache.get("n", db, load) == 3


def test_a_change_committed_in_this_process_is_seen_at_once(rt: Runtime) -> None:
    cache = ReferenceCache(clock=FakeClock())  # the clock never moves: only the change counts
    with rt.sessions() as db:
        before = cache.get("topics", db, topic_names)
    with rt.sessions.begin() as db:
        topic = db.scalars(select(Topic).where(Topic.digit == "1")).one()
        topic.name_vi = "Thuế và phí"
        code = topic.code
    with rt.sessions() as db:
        after = cache.get("topics", db, topic_names)
    assert before[code] != "Thuế và phí"
    assert after[code] == "Thuế và phí"


def test_bulk_statements_count_as_changes(rt: Runtime) -> None:
    cache = ReferenceCache(clock=FakeClock())

    def hours(db) -> int:  # type: ignore[no-untyped-def]
        return len(db.scalars(select(OfficeHours)).all())

    with rt.sessions() as db:
        assert cache.get("hours", db, hours) > 0
    with rt.sessions.begin() as db:
        db.execute(delete(OfficeHours))
    with rt.sessions() as db:
        assert cache.get("hours", db, hours) == 0


def test_a_change_inside_a_savepoint_counts_when_its_transaction_commits(rt: Runtime) -> None:
    cache = ReferenceCache(clock=FakeClock())
    with rt.sessions() as db:
        before = cache.get("topics", db, topic_names)
    writer = rt.sessions()
    try:
        with writer.begin_nested():  # a released savepoint is not yet visible to others
            writer.execute(update(Topic).where(Topic.digit == "2").values(name_vi="Tạm"))
        code = writer.scalars(select(Topic.code).where(Topic.digit == "2")).one()
        with rt.read_sessions() as db:
            assert cache.get("topics", db, topic_names) == before
        writer.commit()
    finally:
        writer.close()
    with rt.sessions() as db:
        assert cache.get("topics", db, topic_names)[code] == "Tạm"


def test_a_rolled_back_change_is_never_seen(rt: Runtime) -> None:
    cache = ReferenceCache(clock=FakeClock())
    with rt.sessions() as db:
        before = cache.get("topics", db, topic_names)
    with rt.sessions() as writer:
        writer.execute(update(Topic).values(name_vi="Sai"))
        writer.rollback()
    with rt.sessions() as db:
        assert cache.get("topics", db, topic_names) == before


def test_a_change_made_by_another_process_is_seen_when_the_value_expires(rt: Runtime) -> None:
    clock = FakeClock()
    cache = ReferenceCache(max_age_s=30, clock=clock)

    def holidays(db) -> int:  # type: ignore[no-untyped-def]
        return len(db.scalars(select(Holiday)).all())

    with rt.sessions() as db:
        count = cache.get("holidays", db, holidays)
    # Core on a bare connection: no ORM session sees it, as with another machine's edit.
    with rt.engine.begin() as conn:
        conn.execute(delete(Holiday))
    with rt.sessions() as db:
        assert cache.get("holidays", db, holidays) == count
        clock.now += 31
        assert cache.get("holidays", db, holidays) == 0
