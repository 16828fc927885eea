"""Every table of the store: importing this module puts them all on ``Schema.metadata``."""

from __future__ import annotations

from sriovstack.store import compute_tables, event_tables, identity_tables, network_tables
from sriovstack.store.tables import Schema

__all__ = ["Schema", "compute_tables", "event_tables", "identity_tables", "network_tables"]
