"""Neutron v2.0 agents: each host's sriovstack agent shown as an SR-IOV NIC agent."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sriovstack.api.context import Authenticated, Env
from sriovstack.api.wire import query_filters
from sriovstack.domain.errors import NotFound
from sriovstack.services import hosts

router = APIRouter(prefix="/networking/v2.0", tags=["network"])


@router.get("/agents")
def list_agents(request: Request, env: Env, caller: Authenticated) -> dict[str, Any]:
    return {"agents": hosts.list_agents(env, caller, query_filters(request))}


@router.get("/agents/{agent_id}")
def show_agent(agent_id: str, env: Env, caller: Authenticated) -> dict[str, Any]:
    found = hosts.list_agents(env, caller, {"id": agent_id})
    if not found:
        raise NotFound("agent", agent_id)
    return {"agent": found[0]}
