"""Events (native API): drift corrected, FDB entries refused, ports and servers failed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.wire import query_filters
from sriovstack.services import events

router = APIRouter(prefix="/v1", tags=["native"])


@router.get("/events")
def list_events(request: Request, env: Env, caller: Authenticated) -> dict[str, Any]:
    """Newest first; filters host (admins), kind, server_id, port_id; paging by marker, limit."""
    return {"events": events.list_events(env, caller, query_filters(request))}


@router.post("/hosts/{host}/events", status_code=201)
def report_events(host: str, env: Env, caller: Authenticated, body: dict[str, Any]) -> Any:
    return {"recorded": events.report_events(env, caller, host, body)}
