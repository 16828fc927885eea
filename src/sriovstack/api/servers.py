"""Nova v2.1 servers (boot with ports or networks, list, show, delete, actions)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from starlette.concurrency import run_in_threadpool

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.microversions import Microversion, echo_headers
from sriovstack.api.wire import envelope, query_filters
from sriovstack.services import server_actions, servers

SIGNAL_POLL = 0.05  # seconds between looks at this process's commit counter (no query)
READ_POLL = 1.0  # seconds between reads of a waited-on server (changes by other processes)

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
async def show_server(
    server_id: str, env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    """The server. One in BUILD is held until it changes, at most ``build_wait`` (settings):
    boots finish within about a second, and OSC's ``server create --wait`` polls every 5 s, so
    its first poll, sent right after the boot, then sees ACTIVE instead of costing 5 s."""
    echo_headers(response, version)

    def show() -> dict[str, Any]:
        return servers.show_server(env, caller, server_id, minor=version.minor)

    # Watching starts before the first read, so no commit between the read and the wait is lost.
    with servers.SERVER_SIGNALS.watching(server_id):
        signal = servers.SERVER_SIGNALS.counter(server_id)
        shown = await run_in_threadpool(show)
        wait = env.settings.build_wait.total_seconds()
        if shown["OS-EXT-STS:vm_state"] == "building" and wait > 0:
            shown = await _changed(show, server_id, shown, signal, wait)
    return {"server": shown}


async def _changed(
    show: Callable[[], dict[str, Any]],
    server_id: str,
    known: dict[str, Any],
    signal: int,
    wait: float,
) -> dict[str, Any]:
    """The server once it differs from ``known``, or as it is when ``wait`` runs out.

    Waiting as ``GET /v1/hosts/{h}/desired?wait=`` does: a coroutine, so no worker thread is
    held. A commit in this process that wrote the server (the agent's ACTIVE or ERROR, a
    delete) wakes it at once through ``SERVER_SIGNALS``, without a query while nothing happens;
    hosts' desired-state signals would miss the ACTIVE report, which changes nothing an agent
    must do. A change made through another API process is seen on the next read, once a second.
    """
    deadline = time.monotonic() + wait
    current, read_at = known, time.monotonic()
    while current == known and (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(SIGNAL_POLL, left))
        now = time.monotonic()
        if servers.SERVER_SIGNALS.counter(server_id) != signal or now - read_at >= READ_POLL:
            signal = servers.SERVER_SIGNALS.counter(server_id)
            current = await run_in_threadpool(show)
            read_at = now
    if current == known:  # the last read may be up to READ_POLL old
        current = await run_in_threadpool(show)
    return current


@router.delete("/servers/{server_id}", status_code=204)
def delete_server(
    server_id: str, env: Env, caller: Authenticated, version: Microversion
) -> Response:
    servers.delete_server(env, caller, server_id)
    response = Response(status_code=204)
    echo_headers(response, version)
    return response


@router.post("/servers/{server_id}/action", status_code=202)
def server_action(
    server_id: str,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    body: Annotated[Any, Body()],
) -> Response:
    """Nova's server actions, ``{"<action>": {...}}``: os-migrateLive and migrate are checked
    as Nova checks them at the requested microversion, then refused (not supported yet)."""
    server_actions.server_action(env, caller, server_id, body, minor=version.minor)
    response = Response(status_code=202)
    echo_headers(response, version)
    return response
