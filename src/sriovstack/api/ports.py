"""Neutron v2.0 ports with the port binding extension (/networking/v2.0/ports)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.wire import envelope, neutron_fields, neutron_filters
from sriovstack.services import ports

router = APIRouter(prefix="/networking/v2.0", tags=["network"])


@router.post("/ports", status_code=201)
def create_port(env: Env, caller: Authenticated, body: dict[str, Any]) -> dict[str, Any]:
    return {"port": ports.create_port(env, caller, envelope(body, "port"))}


@router.get("/ports")
def list_ports(request: Request, env: Env, caller: Authenticated) -> dict[str, Any]:
    found = ports.list_ports(env, caller, neutron_filters(request))
    return {"ports": neutron_fields(request, found)}


@router.get("/ports/{port_id}")
def show_port(request: Request, port_id: str, env: Env, caller: Authenticated) -> dict[str, Any]:
    return {"port": neutron_fields(request, ports.show_port(env, caller, port_id))}


@router.put("/ports/{port_id}")
def update_port(
    port_id: str, env: Env, caller: Authenticated, body: dict[str, Any]
) -> dict[str, Any]:
    return {"port": ports.update_port(env, caller, port_id, envelope(body, "port"))}


@router.delete("/ports/{port_id}", status_code=204)
def delete_port(port_id: str, env: Env, caller: Authenticated) -> Response:
    ports.delete_port(env, caller, port_id)
    return Response(status_code=204)
