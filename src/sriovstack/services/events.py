"""Events: what agents saw and did that people should know, recorded and listed per project."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sriovstack.domain.errors import InvalidInput
from sriovstack.services.environment import Caller, Environment
from sriovstack.store.compute_tables import ServerRow
from sriovstack.store.event_tables import EventRow
from sriovstack.store.events import recent_events
from sriovstack.store.network_tables import PortRow
from sriovstack.store.querying import Session, find_rows, get_row
from sriovstack.store.tables import HostRow

KINDS = frozenset(
    {
        "drift",  # a VF changed by hand, corrected
        "fdb_refused",  # an FDB entry the NIC's MAC filter table has no room for
        "fdb_capacity",  # a PF's MAC filter table close to full
        "port_error",  # a port's VF could not be configured or verified
        "server_error",  # a guest could not start
        "local_delete",  # a server deleted while its host's agent was down
        "vf_missing",  # a VF held by a port vanished from its host
    }
)
SEVERITIES = ("info", "warning", "error")
MESSAGE_LENGTH = 2000
MAX_BATCH = 500
MAX_LIMIT = 1000


def record_event(
    session: Session,
    env: Environment,
    *,
    host: str | None,
    kind: str,
    severity: str,
    message: str,
    project_id: str | None = None,
    server_id: str | None = None,
    port_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Add an event to the caller's transaction."""
    session.add(
        EventRow(
            created_at=env.now(),
            host=host,
            kind=kind,
            severity=severity,
            project_id=project_id,
            server_id=server_id,
            port_id=port_id,
            message=message[:MESSAGE_LENGTH],
            details=dict(details or {}),
        )
    )


def report_events(env: Environment, caller: Caller, host: str, body: Mapping[str, Any]) -> int:
    """An agent's events for its host; each names its kind, severity and message, and may name
    the server or port it is about (which sets the project that sees it). All or none."""
    caller.require_host(host)
    items = body.get("events")
    if not isinstance(items, list) or len(items) > MAX_BATCH:
        raise InvalidInput("events", f"must be a list of at most {MAX_BATCH} events", None)
    with env.unit_of_work() as uow:
        session = uow.session
        for i, item in enumerate(items):
            where = f"events[{i}]"
            if not isinstance(item, dict):
                raise InvalidInput(where, "must be an object")
            kind, severity, message = item.get("kind"), item.get("severity"), item.get("message")
            if kind not in KINDS:
                raise InvalidInput(f"{where}.kind", f"must be one of {', '.join(sorted(KINDS))}")
            if severity not in SEVERITIES:
                raise InvalidInput(f"{where}.severity", f"must be one of {', '.join(SEVERITIES)}")
            if not isinstance(message, str) or not message:
                raise InvalidInput(f"{where}.message", "must be a non-empty string")
            details = item.get("details") or {}
            if not isinstance(details, dict):
                raise InvalidInput(f"{where}.details", "must be an object")
            server_id, port_id = _id(item, "server_id", where), _id(item, "port_id", where)
            record_event(
                session,
                env,
                host=host,
                kind=str(kind),
                severity=str(severity),
                message=message,
                project_id=_owner(session, host, server_id, port_id, where),
                server_id=server_id,
                port_id=port_id,
                details=details,
            )
        uow.commit()
    return len(items)


def list_events(
    env: Environment, caller: Caller, filters: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Events newest first: an admin's of every project, a member's of their own project."""
    limit = _int(filters.get("limit"), "limit", 1, MAX_LIMIT, default=100)
    before = _int(filters.get("marker"), "marker", 1, 2**62, default=None)
    with env.unit_of_work() as uow:
        rows = recent_events(
            uow.session,
            project_id=None if caller.is_admin else caller.project_id,
            host=filters.get("host") if caller.is_admin else None,
            kind=filters.get("kind"),
            server_id=filters.get("server_id"),
            port_id=filters.get("port_id"),
            before_id=before,
            limit=limit,
        )
        return [event_view(row, admin=caller.is_admin) for row in rows]


def event_view(row: EventRow, *, admin: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row.id,
        "created_at": row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kind": row.kind,
        "severity": row.severity,
        "message": row.message,
        "server_id": row.server_id,
        "port_id": row.port_id,
        "project_id": row.project_id,
        "details": row.details,
    }
    if admin:
        view["host"] = row.host
    return view


def _id(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 36:
        raise InvalidInput(f"{where}.{key}", "must be an ID", value)
    return value


def _owner(
    session: Session, host: str, server_id: str | None, port_id: str | None, where: str
) -> str | None:
    """The project of the server or port an event is about; an agent may only speak of its own
    host's servers and ports (a server that left meanwhile is simply not attributed)."""
    project = None
    if port_id and (port := get_row(session, PortRow, port_id)) is not None:
        if port.host_id not in (host, ""):
            raise InvalidInput(f"{where}.port_id", f"port {port_id} is not bound to {host}")
        project = port.project_id
    if server_id and (server := get_row(session, ServerRow, server_id)) is not None:
        if server.host_id is not None and server.host_id != _host_id(session, host):
            raise InvalidInput(f"{where}.server_id", f"server {server_id} is not on {host}")
        project = server.project_id
    return project


def _host_id(session: Session, host: str) -> int | None:
    rows = find_rows(session, HostRow, where={"name": host})
    return rows[0].id if rows else None


def _int(value: str | None, name: str, low: int, high: int, *, default: int | None) -> Any:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(name, f"must be a whole number from {low} to {high}", value) from None
    if not low <= number <= high:
        raise InvalidInput(name, f"must be from {low} to {high}", value)
    return number
