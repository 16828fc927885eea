"""Glance v2 images (metadata only)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sriovstack.api.context import Authenticated, Env, base_url
from sriovstack.api.wire import query_filters
from sriovstack.services import images

router = APIRouter(prefix="/image", tags=["image"])

CURRENT_MINOR = 17  # Glance 2024.2 and later answer v2.17 as CURRENT


def _versions(request: Request) -> dict[str, Any]:
    # Glance points every v2.x entry at the same /v2/ root; the SDK picks the highest.
    href = f"{base_url(request)}/image/v2/"
    return {
        "versions": [
            {
                "id": f"v2.{minor}",
                "status": "CURRENT" if minor == CURRENT_MINOR else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for minor in range(CURRENT_MINOR, -1, -1)
        ]
    }


@router.get("", include_in_schema=False)
@router.get("/")
def versions(request: Request) -> JSONResponse:
    """Glance's version list, with 300 Multiple Choices as Glance answers its root."""
    return JSONResponse(_versions(request), status_code=300)


@router.get("/versions")
def versions_listed(request: Request) -> dict[str, Any]:
    return _versions(request)


@router.post("/v2/images", status_code=201)
def create_image(env: Env, caller: Authenticated, body: dict[str, Any]) -> dict[str, Any]:
    """Glance v2 takes and returns images as bare objects, without an envelope."""
    return images.create_image(env, caller, body)


@router.get("/v2/images")
def list_images(request: Request, env: Env, caller: Authenticated) -> dict[str, Any]:
    # novaclient sends its compute microversion headers here too; Glance ignores them, as we do.
    filters = query_filters(request)
    found, following = images.list_images(env, caller, filters)
    listing: dict[str, Any] = {
        "images": found,
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if following is not None:
        kept = {k: v for k, v in request.query_params.items() if k != "marker"}
        listing["next"] = f"/v2/images?{urlencode({**kept, 'marker': following})}"
    return listing


@router.get("/v2/images/{image_id}")
def show_image(image_id: str, env: Env, caller: Authenticated) -> dict[str, Any]:
    return images.show_image(env, caller, image_id)


@router.delete("/v2/images/{image_id}", status_code=204)
def delete_image(image_id: str, env: Env, caller: Authenticated) -> Response:
    images.delete_image(env, caller, image_id)
    return Response(status_code=204)
