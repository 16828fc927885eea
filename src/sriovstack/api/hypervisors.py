"""Nova v2.1 hypervisors with their PCI inventory, availability zones and (no) aggregates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.microversions import Microversion, echo_headers
from sriovstack.api.wire import query_filters
from sriovstack.services import hypervisors

router = APIRouter(prefix="/compute/v2.1", tags=["compute"])


@router.get("/os-hypervisors")
def list_hypervisors(
    request: Request, env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    found = hypervisors.list_hypervisors(
        env, caller, query_filters(request), detail=False, minor=version.minor
    )
    return {"hypervisors": found}


@router.get("/os-hypervisors/detail")
def list_hypervisors_in_detail(
    request: Request, env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    found = hypervisors.list_hypervisors(
        env, caller, query_filters(request), detail=True, minor=version.minor
    )
    return {"hypervisors": found}


@router.get("/os-hypervisors/statistics")
def hypervisor_statistics(
    env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    totals = hypervisors.hypervisor_statistics(env, caller, minor=version.minor)
    return {"hypervisor_statistics": totals}


@router.get("/os-hypervisors/{hypervisor_id}")
def show_hypervisor(
    hypervisor_id: str,
    request: Request,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    response: Response,
) -> dict[str, Any]:
    """One hypervisor, with ``sriovstack:pci_devices``: its PFs and their VFs by state."""
    echo_headers(response, version)
    shown = hypervisors.show_hypervisor(
        env, caller, hypervisor_id, query_filters(request), minor=version.minor
    )
    return {"hypervisor": shown}


@router.get("/os-availability-zone")
def list_availability_zones(
    env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    zones = hypervisors.list_availability_zones(env, caller, detail=False)
    return {"availabilityZoneInfo": zones}


@router.get("/os-availability-zone/detail")
def list_availability_zones_in_detail(
    env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    zones = hypervisors.list_availability_zones(env, caller, detail=True)
    return {"availabilityZoneInfo": zones}


@router.get("/os-aggregates")
def list_aggregates(
    env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    return {"aggregates": hypervisors.list_aggregates(env, caller)}
