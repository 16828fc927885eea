"""Keystone v3, as much as the OpenStack clients use: version documents, password tokens scoped
to a project, the catalog, and the project list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sriovstack.api.context import Authenticated, Env, base_url
from sriovstack.domain.errors import InvalidInput
from sriovstack.services import identity

router = APIRouter(prefix="/identity", tags=["identity"])

VERSION = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"


def _version(request: Request) -> dict[str, Any]:
    return {
        "id": VERSION,
        "status": "stable",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base_url(request)}/identity/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


@router.get("", include_in_schema=False)
@router.get("/")
def versions(request: Request) -> JSONResponse:
    """Keystone's version list; keystoneauth reads the v3 self link from it."""
    return JSONResponse({"versions": {"values": [_version(request)]}}, status_code=300)


@router.get("/v3")
@router.get("/v3/", include_in_schema=False)
def version(request: Request) -> dict[str, Any]:
    return {"version": _version(request)}


@router.post("/v3/auth/tokens", status_code=201)
def issue_token(request: Request, env: Env, body: dict[str, Any], response: Response) -> Any:
    """Password login, scoped to a project; the token comes back in X-Subject-Token."""
    user, password, project = _password_auth(body)
    issued = identity.issue_token(
        env,
        user_name=user.get("name"),
        user_id=user.get("id"),
        password=password,
        project_name=project.get("name"),
        project_id=project.get("id"),
    )
    response.headers["X-Subject-Token"] = issued.token
    caller = issued.caller
    domain = {"id": "default", "name": "Default"}
    return {
        "token": {
            "methods": ["password"],
            "user": {
                "id": caller.user_id,
                "name": caller.user_name,
                "domain": domain,
                "password_expires_at": None,
            },
            "audit_ids": [issued.audit_id],
            "expires_at": _stamp(issued.expires_at),
            "issued_at": _stamp(issued.issued_at),
            "project": {"id": caller.project_id, "name": caller.project_name, "domain": domain},
            "is_domain": False,
            "roles": [{"id": role, "name": role} for role in sorted(caller.roles)],
            "catalog": catalog(request, env.settings.region),
        }
    }


@router.get("/v3/projects")
def list_projects(env: Env, caller: Authenticated, name: str | None = None) -> dict[str, Any]:
    return {"projects": identity.list_projects(env, caller, name=name), "links": {}}


def catalog(request: Request, region: str) -> list[dict[str, Any]]:
    """The service catalog: versioned compute, unversioned network and image (as clients need)."""
    base = base_url(request)
    services = (
        ("identity", "keystone", f"{base}/identity"),
        ("compute", "nova", f"{base}/compute/v2.1"),
        ("network", "neutron", f"{base}/networking"),
        ("image", "glance", f"{base}/image"),
        ("sriov", "sriovstack", f"{base}/v1"),
    )
    return [
        {
            "id": kind,
            "type": kind,
            "name": name,
            "endpoints": [
                {
                    "id": f"{kind}-{interface}",
                    "interface": interface,
                    "region_id": region,
                    "region": region,
                    "url": url,
                }
                for interface in ("public", "internal", "admin")
            ],
        }
        for kind, name, url in services
    ]


def _password_auth(body: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    try:
        auth = body["auth"]
        methods = auth["identity"]["methods"]
        user = auth["identity"]["password"]["user"]
        password = user["password"]
    except (KeyError, TypeError):
        raise InvalidInput(
            "auth.identity.password.user", "a password login needs a user and its password"
        ) from None
    if "password" not in methods:
        raise InvalidInput("auth.identity.methods", "only password logins are supported", methods)
    scope = auth.get("scope") or {}
    project = scope.get("project") if isinstance(scope, dict) else None
    if not isinstance(user, dict) or not isinstance(password, str):
        raise InvalidInput("auth.identity.password.user", "must name a user and a password")
    return user, password, project if isinstance(project, dict) else {}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
