"""The native admin and agent API (hosts, inventory, heartbeats, PCI devices, agents)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from sriovstack.api.context import Authenticated, Env
from sriovstack.domain.errors import InvalidInput
from sriovstack.services import desired, hosts, interfaces, servers

MAX_WAIT = 60.0  # seconds a long-poll may be held
SIGNAL_POLL = 0.05  # seconds between looks at this process's change counter (no query)
REVISION_POLL = 1.0  # seconds between reads of the revision (changes made by other processes)

router = APIRouter(prefix="/v1", tags=["native"])


@router.post("/hosts", status_code=201)
def register_host(env: Env, caller: Authenticated, body: dict[str, Any]) -> dict[str, Any]:
    """Register a host; the answer carries its agent's credentials, shown this once."""
    name = body.get("name")
    if not isinstance(name, str):
        raise InvalidInput("name", "is required: the host's name")
    return {"host": hosts.register_host(env, caller, name)}


@router.get("/hosts")
def list_hosts(env: Env, caller: Authenticated) -> dict[str, Any]:
    return {"hosts": hosts.list_hosts(env, caller)}


@router.get("/hosts/{host}")
def show_host(host: str, env: Env, caller: Authenticated) -> dict[str, Any]:
    return {"host": hosts.show_host(env, caller, host)}


@router.patch("/hosts/{host}")
def update_host(host: str, env: Env, caller: Authenticated, body: dict[str, Any]) -> Any:
    return {"host": hosts.update_host(env, caller, host, body)}


@router.put("/hosts/{host}/inventory")
def report_inventory(host: str, env: Env, caller: Authenticated, body: dict[str, Any]) -> Any:
    """An agent's inventory report (also a heartbeat)."""
    return {"host": hosts.report_inventory(env, caller, host, body)}


@router.post("/hosts/{host}/heartbeat")
def heartbeat(host: str, env: Env, caller: Authenticated) -> dict[str, Any]:
    return hosts.heartbeat(env, caller, host)


@router.get("/hosts/{host}/servers")
def host_servers(host: str, env: Env, caller: Authenticated) -> dict[str, Any]:
    """What the host's agent must run: servers placed there, with ports and bindings."""
    return {"servers": servers.host_servers(env, caller, host)}


@router.get("/hosts/{host}/desired")
async def desired_state(
    host: str, env: Env, caller: Authenticated, revision: int | None = None, wait: float = 0
) -> dict[str, Any]:
    """The host's desired state with its revision. With ``revision`` and ``wait``, a long-poll:
    the answer comes as soon as the revision differs from the one given, or after ``wait``
    seconds (at most 60) with the same revision."""
    if not 0 <= wait <= MAX_WAIT:
        raise InvalidInput("wait", f"must be 0 to {MAX_WAIT:g} seconds", wait)
    if revision is not None and wait > 0:
        await _changed(env, caller, host, revision, wait)
    return await run_in_threadpool(desired.desired_state, env, caller, host)


async def _changed(env: Env, caller: Authenticated, host: str, known: int, wait: float) -> None:
    """Return once the host's revision is not ``known``, or when ``wait`` runs out."""
    deadline = time.monotonic() + wait
    signal = desired.SIGNALS.counter(host)
    current = await run_in_threadpool(desired.revision, env, caller, host)
    read_at = time.monotonic()
    while current == known and time.monotonic() < deadline:
        await asyncio.sleep(SIGNAL_POLL)
        now = time.monotonic()
        if desired.SIGNALS.counter(host) != signal or now - read_at >= REVISION_POLL:
            signal = desired.SIGNALS.counter(host)
            current = await run_in_threadpool(desired.revision, env, caller, host)
            read_at = now


@router.post("/hosts/{host}/servers/{server_id}/deleted", status_code=204)
def confirm_deleted(host: str, server_id: str, env: Env, caller: Authenticated) -> Response:
    """The agent stopped the guest and reset its VFs: the devices go back, the server goes."""
    servers.confirm_deleted(env, caller, host, server_id)
    return Response(status_code=204)


@router.put("/hosts/{host}/ports/{port_id}/status")
def report_port(
    host: str, port_id: str, env: Env, caller: Authenticated, body: dict[str, Any]
) -> dict[str, Any]:
    """The agent's status of a port bound to its host (ACTIVE, DOWN, or ERROR with a reason)."""
    return {"port": interfaces.report_port(env, caller, host, port_id, body)}


@router.post("/hosts/{host}/ports/{port_id}/detached", status_code=204)
def confirm_detached(host: str, port_id: str, env: Env, caller: Authenticated) -> Response:
    """The agent unplugged the port's NIC and reset its VF: the VF goes back to the pool."""
    interfaces.confirm_detached(env, caller, host, port_id)
    return Response(status_code=204)


@router.put("/hosts/{host}/servers/{server_id}/status")
def report_server(
    host: str, server_id: str, env: Env, caller: Authenticated, body: dict[str, Any]
) -> dict[str, Any]:
    """The agent says a guest runs (ACTIVE) or could not start (ERROR with a fault)."""
    return {"server": servers.report_server(env, caller, host, server_id, body)}


@router.get("/pci-devices")
def list_pci_devices(
    env: Env, caller: Authenticated, host: str | None = None, state: str | None = None
) -> dict[str, Any]:
    return {"pci_devices": hosts.list_pci_devices(env, caller, host=host, state=state)}
