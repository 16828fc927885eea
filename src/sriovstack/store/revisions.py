"""Desired-state revisions per host, and a signal after each commit that changed one.

``touch_host`` bumps the host's ``desired_revision`` inside the caller's transaction and, once
that transaction commits, bumps an in-process counter that long-polls read without a query.
A process that did not make the change still sees it on its next read of the revision.
``SERVER_SIGNALS`` does the same for servers, after any commit that wrote a server's row.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from sriovstack.store.compute_tables import ServerRow
from sriovstack.store.tables import HostRow

_TOUCHED = "sriovstack.touched_hosts"
_WRITTEN = "sriovstack.written_servers"


class HostSignals:
    """A counter per host name, bumped after a commit that touched the host; cheap to read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}

    def counter(self, host: str) -> int:
        return self._counters.get(host, 0)

    def bump(self, hosts: Iterable[str]) -> None:
        with self._lock:
            for host in hosts:
                self._counters[host] = self._counters.get(host, 0) + 1


class WatchedSignals:
    """A counter per key that someone watches, bumped after a commit that wrote the key.

    Servers are many and few are ever waited on, so only watched keys have a counter (a
    counter per server ever written would grow without end).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self._watchers: dict[str, int] = {}

    @contextmanager
    def watching(self, key: str) -> Iterator[None]:
        """Count commits that write ``key`` while inside; start before the first read."""
        with self._lock:
            self._watchers[key] = self._watchers.get(key, 0) + 1
            self._counters.setdefault(key, 0)
        try:
            yield
        finally:
            with self._lock:
                self._watchers[key] -= 1
                if not self._watchers[key]:
                    del self._watchers[key], self._counters[key]

    def counter(self, key: str) -> int:
        return self._counters.get(key, 0)

    def bump(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                if key in self._counters:
                    self._counters[key] += 1


SIGNALS = HostSignals()
SERVER_SIGNALS = WatchedSignals()


@event.listens_for(Session, "after_flush")
def _note_written_servers(session: Session, _context: Any) -> None:
    # Every change to a server goes through the ORM, so the flushed rows are all of them; the
    # session still lists them here (they are cleared after this event).
    written = [
        row.id
        for row in (*session.new, *session.dirty, *session.deleted)
        if isinstance(row, ServerRow)
    ]
    if written:
        session.info.setdefault(_WRITTEN, set()).update(written)


@event.listens_for(Session, "after_commit")
def _signal_touched(session: Session) -> None:
    touched = session.info.pop(_TOUCHED, None)
    if touched:
        SIGNALS.bump(touched)
    written = session.info.pop(_WRITTEN, None)
    if written:
        SERVER_SIGNALS.bump(written)


@event.listens_for(Session, "after_rollback")
def _forget_touched(session: Session) -> None:
    session.info.pop(_TOUCHED, None)
    session.info.pop(_WRITTEN, None)


def touch_host(session: Session, *, host_id: int | None = None, name: str | None = None) -> None:
    """Record in this transaction that the host's desired state changed (no host: nothing)."""
    if host_id is None and not name:
        return
    where = HostRow.id == host_id if host_id is not None else HostRow.name == name
    session.execute(
        update(HostRow).where(where).values(desired_revision=HostRow.desired_revision + 1),
        execution_options={"synchronize_session": False},
    )
    host = name or session.scalar(select(HostRow.name).where(HostRow.id == host_id))
    if host:
        session.info.setdefault(_TOUCHED, set()).add(host)


def revision_of(session: Session, host: str) -> int | None:
    """The host's desired-state revision, or None for an unknown host."""
    value = session.scalar(select(HostRow.desired_revision).where(HostRow.name == host))
    return None if value is None else int(value)
