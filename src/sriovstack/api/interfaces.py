"""Nova v2.1 os-interface: a running server's interfaces, hotplug attach and detach."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.microversions import Microversion, echo_headers
from sriovstack.services import interfaces

router = APIRouter(prefix="/compute/v2.1", tags=["compute"])


@router.get("/servers/{server_id}/os-interface")
def list_interfaces(
    server_id: str, env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    found = interfaces.list_interfaces(env, caller, server_id, minor=version.minor)
    return {"interfaceAttachments": found}


@router.post("/servers/{server_id}/os-interface")
def attach_interface(
    server_id: str,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    response: Response,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Hotplug: claim a device on the server's host and bind the port; the agent plugs it."""
    echo_headers(response, version)
    attached = interfaces.attach_interface(env, caller, server_id, body, minor=version.minor)
    return {"interfaceAttachment": attached}


@router.get("/servers/{server_id}/os-interface/{port_id}")
def show_interface(
    server_id: str,
    port_id: str,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    response: Response,
) -> dict[str, Any]:
    echo_headers(response, version)
    found = interfaces.show_interface(env, caller, server_id, port_id, minor=version.minor)
    return {"interfaceAttachment": found}


@router.delete("/servers/{server_id}/os-interface/{port_id}", status_code=202)
def detach_interface(
    server_id: str, port_id: str, env: Env, caller: Authenticated, version: Microversion
) -> Response:
    """Hotunplug: the agent unplugs the NIC and resets the VF, then the VF is freed."""
    interfaces.detach_interface(env, caller, server_id, port_id)
    response = Response(status_code=202)
    echo_headers(response, version)
    return response
