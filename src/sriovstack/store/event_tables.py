"""The store's event rows: what agents saw and did that people should know (drift, refusals)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.store.tables import Schema


class EventRow(Schema):
    """One event: a VF corrected after drift, an FDB entry refused, a port or server failed.

    ``project_id`` is the owner of the port or server it is about (None for host-wide events),
    so that a member sees the events of their own resources and nothing else.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_host_id", "host", "id"),
        Index("ix_events_project_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    host: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[str | None] = mapped_column(String(32))
    server_id: Mapped[str | None] = mapped_column(String(36), index=True)
    port_id: Mapped[str | None] = mapped_column(String(36), index=True)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
