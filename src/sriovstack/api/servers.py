"""Nova v2.1 servers (boot with ports, list, show, delete)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.wire import envelope, query_filters
from sriovstack.services import servers

router = APIRouter(prefix="/compute/v2.1", tags=["compute"])


@router.post("/servers", status_code=202)
def create_server(env: Env, caller: Authenticated, body: dict[str, Any]) -> dict[str, Any]:
    """Boot; the answer already says whether a host was found (BUILD) or not (ERROR)."""
    return {"server": servers.create_server(env, caller, envelope(body, "server"))}


@router.get("/servers")
def list_servers(request: Request, env: Env, caller: Authenticated) -> dict[str, Any]:
    return {"servers": servers.list_servers(env, caller, query_filters(request), detail=False)}


@router.get("/servers/detail")
def list_servers_detail(request: Request, env: Env, caller: Authenticated) -> dict[str, Any]:
    return {"servers": servers.list_servers(env, caller, query_filters(request), detail=True)}


@router.get("/servers/{server_id}")
def show_server(server_id: str, env: Env, caller: Authenticated) -> dict[str, Any]:
    return {"server": servers.show_server(env, caller, server_id)}


@router.delete("/servers/{server_id}", status_code=204)
def delete_server(server_id: str, env: Env, caller: Authenticated) -> Response:
    servers.delete_server(env, caller, server_id)
    return Response(status_code=204)
