"""Desired-state revisions per host, and a signal after each commit that changed one.

``touch_host`` bumps the host's ``desired_revision`` inside the caller's transaction and, once
that transaction commits, bumps an in-process counter that long-polls read without a query.
A process that did not make the change still sees it on its next read of the revision.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from sriovstack.store.tables import HostRow

_TOUCHED = "sriovstack.touched_hosts"


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


SIGNALS = HostSignals()


@event.listens_for(Session, "after_commit")
def _signal_touched(session: Session) -> None:
    touched = session.info.pop(_TOUCHED, None)
    if touched:
        SIGNALS.bump(touched)


@event.listens_for(Session, "after_rollback")
def _forget_touched(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


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
