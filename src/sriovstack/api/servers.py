"""Nova v2.1 servers (boot with ports or networks, list, show, delete)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.microversions import Microversion, echo_headers
from sriovstack.api.wire import envelope, query_filters
from sriovstack.services import servers

router = APIRouter(prefix="/compute/v2.1", tags=["compute"])


@router.post("/servers", status_code=202)
def create_server(
    env: Env, caller: Authenticated, version: Microversion, response: Response, body: dict[str, Any]
) -> dict[str, Any]:
    """Boot; the answer already says whether a host was found (BUILD) or not (ERROR)."""
    echo_headers(response, version)
    server = servers.create_server(env, caller, envelope(body, "server"), minor=version.minor)
    return {"server": server}


@router.get("/servers")
def list_servers(
    request: Request, env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    found = servers.list_servers(env, caller, query_filters(request), detail=False)
    return {"servers": found}


@router.get("/servers/detail")
def list_servers_detail(
    request: Request, env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    filters = query_filters(request)
    found = servers.list_servers(env, caller, filters, detail=True, minor=version.minor)
    return {"servers": found}


@router.get("/servers/{server_id}")
def show_server(
    server_id: str, env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    return {"server": servers.show_server(env, caller, server_id, minor=version.minor)}


@router.delete("/servers/{server_id}", status_code=204)
def delete_server(
    server_id: str, env: Env, caller: Authenticated, version: Microversion
) -> Response:
    servers.delete_server(env, caller, server_id)
    response = Response(status_code=204)
    echo_headers(response, version)
    return response
