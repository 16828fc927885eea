"""The native admin and agent API (hosts, inventory, heartbeats, PCI devices, agents)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sriovstack.api.context import Authenticated, Env
from sriovstack.domain.errors import InvalidInput
from sriovstack.services import hosts, servers

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
