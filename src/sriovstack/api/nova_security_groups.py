"""Nova's security group proxy, /compute/v2.1/os-security-groups and -rules, up to 2.35."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.microversions import ComputeVersion, Microversion, echo_headers
from sriovstack.api.wire import envelope
from sriovstack.services import nova_security_groups as proxy

LAST_MINOR = 35  # Nova removed the proxies in 2.36; novaclient 7.1.2 pins 2.35 for them

router = APIRouter(prefix="/compute/v2.1", tags=["compute"])


def proxy_version(version: Microversion) -> ComputeVersion:
    """The request's microversion; from 2.36 on these paths do not exist, as in Nova."""
    if version.minor > LAST_MINOR:
        raise HTTPException(404, "The resource could not be found.")
    return version


Proxied = Annotated[ComputeVersion, Depends(proxy_version)]


@router.get("/os-security-groups")
def list_groups(
    env: Env, caller: Authenticated, version: Proxied, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    return {"security_groups": proxy.list_groups(env, caller)}


@router.get("/os-security-groups/{group_id}")
def show_group(
    group_id: str, env: Env, caller: Authenticated, version: Proxied, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    return {"security_group": proxy.show_group(env, caller, group_id)}


@router.post("/os-security-groups")
def create_group(
    env: Env, caller: Authenticated, version: Proxied, response: Response, body: dict[str, Any]
) -> dict[str, Any]:
    echo_headers(response, version)
    return {"security_group": proxy.create_group(env, caller, envelope(body, "security_group"))}


@router.delete("/os-security-groups/{group_id}", status_code=202)
def delete_group(group_id: str, env: Env, caller: Authenticated, version: Proxied) -> Response:
    proxy.delete_group(env, caller, group_id)
    response = Response(status_code=202)
    echo_headers(response, version)
    return response


@router.post("/os-security-group-rules")
def create_rule(
    env: Env, caller: Authenticated, version: Proxied, response: Response, body: dict[str, Any]
) -> dict[str, Any]:
    """200 with Nova's view of the rule (Nova never answered 201 here)."""
    echo_headers(response, version)
    rule = proxy.create_rule(env, caller, envelope(body, proxy.RULE))
    return {proxy.RULE: rule}


@router.delete("/os-security-group-rules/{rule_id}", status_code=202)
def delete_rule(rule_id: str, env: Env, caller: Authenticated, version: Proxied) -> Response:
    proxy.delete_rule(env, caller, rule_id)
    response = Response(status_code=202)
    echo_headers(response, version)
    return response
