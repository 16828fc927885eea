"""Nova v2.1 key pairs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from sriovstack.api.context import Authenticated, Env, base_url
from sriovstack.api.microversions import Microversion, echo_headers
from sriovstack.api.wire import envelope, query_filters
from sriovstack.services import keypairs

router = APIRouter(prefix="/compute/v2.1", tags=["compute"])


@router.post("/os-keypairs")
def create_keypair(
    env: Env,
    caller: Authenticated,
    version: Microversion,
    response: Response,
    body: dict[str, Any],
) -> dict[str, Any]:
    """201 from 2.2, 200 before, as Nova answers."""
    echo_headers(response, version)
    created = keypairs.create_keypair(env, caller, envelope(body, "keypair"), minor=version.minor)
    response.status_code = 201 if version.at_least(keypairs.TYPE_SINCE) else 200
    return {"keypair": created}


@router.get("/os-keypairs")
def list_keypairs(
    request: Request, env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    """``{"keypairs": [{"keypair": {...}}]}``: Nova nests each one once more."""
    echo_headers(response, version)
    filters = query_filters(request)
    found = keypairs.list_keypairs(env, caller, filters, minor=version.minor)
    listing: dict[str, Any] = {"keypairs": found}
    limit = filters.get("limit")
    paged = version.at_least(keypairs.PAGING_SINCE) and limit is not None
    if paged and found and len(found) == min(int(str(limit)), keypairs.MAX_LIMIT):
        following = {"limit": limit, "marker": found[-1]["keypair"]["name"]}
        if "user_id" in filters:
            following["user_id"] = filters["user_id"]
        href = f"{base_url(request)}/compute/v2.1/os-keypairs?{urlencode(following)}"
        listing["keypairs_links"] = [{"rel": "next", "href": href}]
    return listing


@router.get("/os-keypairs/{name}")
def show_keypair(
    name: str,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    response: Response,
    user_id: str | None = None,
) -> dict[str, Any]:
    echo_headers(response, version)
    shown = keypairs.show_keypair(env, caller, name, minor=version.minor, user_id=user_id)
    return {"keypair": shown}


@router.delete("/os-keypairs/{name}")
def delete_keypair(
    name: str,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    user_id: str | None = None,
) -> Response:
    """204 from 2.2, 202 before, as Nova answers."""
    keypairs.delete_keypair(env, caller, name, minor=version.minor, user_id=user_id)
    response = Response(status_code=204 if version.at_least(keypairs.TYPE_SINCE) else 202)
    echo_headers(response, version)
    return response
