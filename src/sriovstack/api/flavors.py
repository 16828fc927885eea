"""Nova v2.1 flavors and their extra specs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from sriovstack.api import microversions
from sriovstack.api.context import Authenticated, Env, base_url
from sriovstack.api.microversions import Microversion, echo_headers
from sriovstack.api.wire import envelope, query_filters
from sriovstack.domain.errors import NotFound
from sriovstack.services import flavors

routes = APIRouter(prefix="/compute/v2.1", tags=["compute"])


@routes.get("/flavors")
def list_flavors(
    request: Request, env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    return _listing(request, env, caller, version, response, detail=False)


@routes.get("/flavors/detail")
def list_flavors_in_detail(
    request: Request, env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    return _listing(request, env, caller, version, response, detail=True)


@routes.post("/flavors")
def create_flavor(
    request: Request,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    response: Response,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Nova answers a new flavor with 200, not 201."""
    echo_headers(response, version)
    created = flavors.create_flavor(
        env, caller, envelope(body, "flavor"), minor=version.minor, base=base_url(request)
    )
    return {"flavor": created}


@routes.get("/flavors/{flavor_id}")
def show_flavor(
    flavor_id: str,
    request: Request,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    response: Response,
) -> dict[str, Any]:
    echo_headers(response, version)
    shown = flavors.show_flavor(env, caller, flavor_id, minor=version.minor, base=base_url(request))
    return {"flavor": shown}


@routes.put("/flavors/{flavor_id}")
def update_flavor(
    flavor_id: str,
    request: Request,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    response: Response,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Only the description changes, from 2.55; Nova has no such method before."""
    if not version.at_least(flavors.DESCRIPTION_SINCE):
        raise NotFound("API", "PUT /flavors/{flavor_id}", "added at microversion 2.55")
    echo_headers(response, version)
    changed = flavors.update_flavor(
        env,
        caller,
        flavor_id,
        envelope(body, "flavor"),
        minor=version.minor,
        base=base_url(request),
    )
    return {"flavor": changed}


@routes.delete("/flavors/{flavor_id}", status_code=202)
def delete_flavor(
    flavor_id: str, env: Env, caller: Authenticated, version: Microversion
) -> Response:
    flavors.delete_flavor(env, caller, flavor_id)
    response = Response(status_code=202)
    echo_headers(response, version)
    return response


@routes.get("/flavors/{flavor_id}/os-extra_specs")
def list_extra_specs(
    flavor_id: str, env: Env, caller: Authenticated, version: Microversion, response: Response
) -> dict[str, Any]:
    echo_headers(response, version)
    return {"extra_specs": flavors.list_extra_specs(env, caller, flavor_id)}


@routes.post("/flavors/{flavor_id}/os-extra_specs")
def set_extra_specs(
    flavor_id: str,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    response: Response,
    body: dict[str, Any],
) -> dict[str, Any]:
    echo_headers(response, version)
    specs = flavors.set_extra_specs(env, caller, flavor_id, body.get("extra_specs"))
    return {"extra_specs": specs}


@routes.get("/flavors/{flavor_id}/os-extra_specs/{key}")
def show_extra_spec(
    flavor_id: str,
    key: str,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    response: Response,
) -> dict[str, Any]:
    echo_headers(response, version)
    return flavors.show_extra_spec(env, caller, flavor_id, key)


@routes.put("/flavors/{flavor_id}/os-extra_specs/{key}")
def update_extra_spec(
    flavor_id: str,
    key: str,
    env: Env,
    caller: Authenticated,
    version: Microversion,
    response: Response,
    body: dict[str, Any],
) -> dict[str, Any]:
    echo_headers(response, version)
    return flavors.update_extra_spec(env, caller, flavor_id, key, body)


@routes.delete("/flavors/{flavor_id}/os-extra_specs/{key}", status_code=202)
def delete_extra_spec(
    flavor_id: str, key: str, env: Env, caller: Authenticated, version: Microversion
) -> Response:
    flavors.delete_extra_spec(env, caller, flavor_id, key)
    response = Response(status_code=202)
    echo_headers(response, version)
    return response


def _listing(
    request: Request,
    env: Env,
    caller: Authenticated,
    version: microversions.ComputeVersion,
    response: Response,
    *,
    detail: bool,
) -> dict[str, Any]:
    echo_headers(response, version)
    filters = query_filters(request)
    found = flavors.list_flavors(
        env, caller, filters, detail=detail, minor=version.minor, base=base_url(request)
    )
    listing: dict[str, Any] = {"flavors": found}
    limit = filters.get("limit")
    if found and limit is not None and len(found) == min(int(limit), flavors.MAX_LIMIT):
        # Nova links the next page whenever a page comes back full.
        path = "/flavors/detail" if detail else "/flavors"
        query = urlencode({"limit": limit, "marker": found[-1]["id"]})
        href = f"{base_url(request)}/compute/v2.1{path}?{query}"
        listing["flavors_links"] = [{"rel": "next", "href": href}]
    return listing


router = routes
