"""A per-process cache of the small reference tables every webhook reads.

Each webhook needs the office calendar (hours and holidays) and the menu's topics. Loading them
from the database on every request was half of a webhook's SQL statements and a third of its
CPU (40 ORM rows per request). They change a few times a year, when an admin edits them.

Freshness: a change committed through the ORM in this process (the settings pages, the seed
command, a test) clears every cache of the process at once. Another process or machine sees
the change within `max_age_s` (30 s by default), when its cached copy expires. Only immutable
values are cached (the calendar, plain dataclasses of topics), never ORM objects, which belong
to one session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from storage.models import Department, Holiday, OfficeHours, Topic

T = TypeVar("T")

REFERENCE_MODELS = (OfficeHours, Holiday, Topic, Department)
_REFERENCE_TABLES = frozenset(model.__tablename__ for model in REFERENCE_MODELS)
DEFAULT_MAX_AGE_S = 30.0


class _Generation:
    """A process-wide counter, bumped after each commit that changed reference data.

    Session events are registered on the Session class, so the counter they bump is per
    process, not per cache; every cache compares against it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def bump(self) -> None:
        with self._lock:
            self.value += 1


GENERATION = _Generation()


class ReferenceCache:
    """Values computed from reference data, each kept `max_age_s` or until a local change."""

    def __init__(
        self,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        # name -> (generation, loaded at, value)
        self._values: dict[str, tuple[int, float, Any]] = {}

    def get(self, name: str, db: Session, load: Callable[[Session], T]) -> T:
        """Return the cached value called `name`, loading it with `load(db)` when stale."""
        now = self._clock()
        with self._lock:
            found = self._values.get(name)
        if found is not None:
            generation, loaded_at, value = found
            if generation == GENERATION.value and now - loaded_at < self.max_age_s:
                return value  # type: ignore[no-any-return]
        # Read the generation before loading: a change committed while we load makes the
        # stored value stale at once instead of hiding the change for max_age_s.
        generation = GENERATION.value
        value = load(db)
        with self._lock:
            self._values[name] = (generation, now, value)
        return value

    def clear(self) -> None:
        """Forget every value (the next `get` loads from the database)."""
        with self._lock:
            self._values.clear()


# --- noticing local changes ---------------------------------------------------------------------

_CHANGED = "reference_data_changed"


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, flush_context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, REFERENCE_MODELS):
            session.info[_CHANGED] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    # delete(OfficeHours), update(Topic)…: bulk statements bypass the flush.
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _REFERENCE_TABLES:
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    # A released savepoint is not yet visible to other sessions: wait for the real commit.
    # (A flag left by a rolled-back transaction costs at most one needless reload.)
    if session.in_nested_transaction():
        return
    if session.info.pop(_CHANGED, False):
        GENERATION.bump()
