"""Neutron v2.0 subnets with IPAM (/networking/v2.0/subnets)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.wire import envelope, neutron_fields, neutron_filters
from sriovstack.services import dhcp, subnets

router = APIRouter(prefix="/networking/v2.0", tags=["network"])


@router.post("/subnets", status_code=201)
def create_subnet(env: Env, caller: Authenticated, body: dict[str, Any]) -> dict[str, Any]:
    subnet = subnets.create_subnet(env, caller, envelope(body, "subnet"))
    dhcp.ensure_dhcp_port(env, caller, subnet)  # what the DHCP agent does next, in Neutron
    return {"subnet": subnet}


@router.get("/subnets")
def list_subnets(request: Request, env: Env, caller: Authenticated) -> dict[str, Any]:
    found = subnets.list_subnets(env, caller, neutron_filters(request))
    return {"subnets": neutron_fields(request, found)}


@router.get("/subnets/{subnet_id}")
def show_subnet(
    request: Request, subnet_id: str, env: Env, caller: Authenticated
) -> dict[str, Any]:
    return {"subnet": neutron_fields(request, subnets.show_subnet(env, caller, subnet_id))}


@router.put("/subnets/{subnet_id}")
def update_subnet(
    subnet_id: str, env: Env, caller: Authenticated, body: dict[str, Any]
) -> dict[str, Any]:
    changes = envelope(body, "subnet")
    return {"subnet": subnets.update_subnet(env, caller, subnet_id, changes)}


@router.delete("/subnets/{subnet_id}", status_code=204)
def delete_subnet(subnet_id: str, env: Env, caller: Authenticated) -> Response:
    subnets.delete_subnet(env, caller, subnet_id)
    return Response(status_code=204)
