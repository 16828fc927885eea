"""Reading events: newest first, filtered, paged by ID."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sriovstack.store.event_tables import EventRow


def recent_events(
    session: Session,
    *,
    project_id: str | None = None,
    host: str | None = None,
    kind: str | None = None,
    server_id: str | None = None,
    port_id: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[EventRow]:
    """Events matching every given filter, newest first; ``project_id`` None means all."""
    query = select(EventRow)
    for column, value in (
        (EventRow.project_id, project_id),
        (EventRow.host, host),
        (EventRow.kind, kind),
        (EventRow.server_id, server_id),
        (EventRow.port_id, port_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if before_id is not None:
        query = query.where(EventRow.id < before_id)
    return list(session.scalars(query.order_by(EventRow.id.desc()).limit(limit)))
