"""Neutron v2.0 security groups and rules (stored; not enforced on direct ports)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.wire import envelope, neutron_fields, neutron_filters
from sriovstack.services import security_groups

router = APIRouter(prefix="/networking/v2.0", tags=["network"])

GROUP, RULE = "security_group", "security_group_rule"


@router.post("/security-groups", status_code=201)
def create_group(env: Env, caller: Authenticated, body: dict[str, Any]) -> dict[str, Any]:
    return {GROUP: security_groups.create_security_group(env, caller, envelope(body, GROUP))}


@router.get("/security-groups")
def list_groups(request: Request, env: Env, caller: Authenticated) -> dict[str, Any]:
    found = security_groups.list_security_groups(env, caller, neutron_filters(request))
    return {"security_groups": neutron_fields(request, found)}


@router.get("/security-groups/{group_id}")
def show_group(request: Request, group_id: str, env: Env, caller: Authenticated) -> dict[str, Any]:
    found = security_groups.show_security_group(env, caller, group_id)
    return {GROUP: neutron_fields(request, found)}


@router.put("/security-groups/{group_id}")
def update_group(
    group_id: str, env: Env, caller: Authenticated, body: dict[str, Any]
) -> dict[str, Any]:
    changes = envelope(body, GROUP)
    return {GROUP: security_groups.update_security_group(env, caller, group_id, changes)}


@router.delete("/security-groups/{group_id}", status_code=204)
def delete_group(group_id: str, env: Env, caller: Authenticated) -> Response:
    security_groups.delete_security_group(env, caller, group_id)
    return Response(status_code=204)


@router.post("/security-group-rules", status_code=201)
def create_rule(env: Env, caller: Authenticated, body: dict[str, Any]) -> dict[str, Any]:
    return {RULE: security_groups.create_rule(env, caller, envelope(body, RULE))}


@router.get("/security-group-rules")
def list_rules(request: Request, env: Env, caller: Authenticated) -> dict[str, Any]:
    found = security_groups.list_rules(env, caller, neutron_filters(request))
    return {"security_group_rules": neutron_fields(request, found)}


@router.get("/security-group-rules/{rule_id}")
def show_rule(request: Request, rule_id: str, env: Env, caller: Authenticated) -> dict[str, Any]:
    return {RULE: neutron_fields(request, security_groups.show_rule(env, caller, rule_id))}


@router.delete("/security-group-rules/{rule_id}", status_code=204)
def delete_rule(rule_id: str, env: Env, caller: Authenticated) -> Response:
    security_groups.delete_rule(env, caller, rule_id)
    return Response(status_code=204)
