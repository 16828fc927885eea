"""Neutron v2.0 networks: /networking/v2.0/networks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.wire import envelope, neutron_fields, neutron_filters
from sriovstack.services import networks

router = APIRouter(prefix="/networking/v2.0", tags=["network"])


@router.post("/networks", status_code=201)
def create_network(env: Env, caller: Authenticated, body: dict[str, Any]) -> dict[str, Any]:
    return {"network": networks.create_network(env, caller, envelope(body, "network"))}


@router.get("/networks")
def list_networks(request: Request, env: Env, caller: Authenticated) -> dict[str, Any]:
    found = networks.list_networks(env, caller, neutron_filters(request))
    return {"networks": neutron_fields(request, found)}


@router.get("/networks/{network_id}")
def show_network(
    request: Request, network_id: str, env: Env, caller: Authenticated
) -> dict[str, Any]:
    return {"network": neutron_fields(request, networks.show_network(env, caller, network_id))}


@router.put("/networks/{network_id}")
def update_network(
    network_id: str, env: Env, caller: Authenticated, body: dict[str, Any]
) -> dict[str, Any]:
    changes = envelope(body, "network")
    return {"network": networks.update_network(env, caller, network_id, changes)}


@router.delete("/networks/{network_id}", status_code=204)
def delete_network(network_id: str, env: Env, caller: Authenticated) -> Response:
    networks.delete_network(env, caller, network_id)
    return Response(status_code=204)
