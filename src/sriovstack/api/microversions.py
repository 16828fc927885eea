"""Nova's compute microversions: the version documents, the request headers and their echo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.datastructures import Headers

from sriovstack.api.context import base_url

NEW_HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
VARY = f"{NEW_HEADER}, {LEGACY_HEADER}"
SERVICE = "compute"
UPDATED = "2013-07-23T11:33:21Z"  # Nova's v2.1 document has carried this date since it began
_VERSION = re.compile(r"([1-9][0-9]*)\.([1-9][0-9]*|0)")  # Nova's: no leading zeros

router = APIRouter(prefix="/compute", tags=["compute"])


@dataclass(frozen=True, slots=True, order=True)
class ComputeVersion:
    """A compute API microversion, e.g. 2.61; ordered, so a range check is a comparison."""

    major: int
    minor: int

    def at_least(self, minor: int) -> bool:
        """Whether this is 2.``minor`` or newer: the test every versioned shape makes."""
        return (self.major, self.minor) >= (2, minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


MINIMUM = ComputeVersion(2, 1)
MAXIMUM = ComputeVersion(2, 96)  # novaclient 18's own maximum, tested with every client


def parse_compute_version(headers: Headers) -> ComputeVersion:
    """The microversion a request asks for; 2.1 when it names none.

    A malformed version is a 400 and one outside the supported range a 406, both with Nova's
    own messages, so that clients which parse them say the same thing they say against Nova.
    """
    text = _requested(headers)
    if text is None:
        return MINIMUM
    if text.lower() == "latest":
        return MAXIMUM
    match = _VERSION.fullmatch(text)
    if match is None:
        raise HTTPException(
            400,
            f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum.",
        )
    version = ComputeVersion(int(match[1]), int(match[2]))
    if not MINIMUM <= version <= MAXIMUM:
        raise HTTPException(
            406,
            f"Version {version} is not supported by the API. Minimum is {MINIMUM} and "
            f"maximum is {MAXIMUM}.",
        )
    return version


def _requested(headers: Headers) -> str | None:
    # As microversion_parse reads them: the new header's compute entry wins; repeated headers
    # and comma-separated entries for several services are all one list; then the legacy one.
    entries = [entry.strip() for value in headers.getlist(NEW_HEADER) for entry in value.split(",")]
    for entry in entries:
        service, _, version = entry.partition(" ")
        if service.lower() == SERVICE:
            return version.strip()
    legacy = [value.strip() for value in headers.getlist(LEGACY_HEADER) if value.strip()]
    return legacy[-1] if legacy else None


def compute_version(request: Request) -> ComputeVersion:
    return parse_compute_version(request.headers)


Microversion = Annotated[ComputeVersion, Depends(compute_version)]


def echo_headers(response: Response, version: ComputeVersion) -> None:
    """Say which microversion answered, in both header styles; novaclient warns without them."""
    response.headers.update(version_headers(version))


def version_headers(version: ComputeVersion) -> dict[str, str]:
    return {NEW_HEADER: f"{SERVICE} {version}", LEGACY_HEADER: str(version), "Vary": VARY}


def refusal_headers(request: Request) -> dict[str, str]:
    """The version headers for a refused compute request, as Nova sends them on its faults;
    none outside /compute/v2.1 or when the version asked for is itself what was refused."""
    if not request.url.path.startswith("/compute/v2.1/"):
        return {}
    try:
        return version_headers(parse_compute_version(request.headers))
    except HTTPException:
        return {}


def _v21(request: Request) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(MAXIMUM),
        "min_version": str(MINIMUM),
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base_url(request)}/compute/v2.1/"}],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


@router.get("", include_in_schema=False)
@router.get("/")
def versions(request: Request) -> dict[str, Any]:
    """Nova's version list; clients read it only when the catalog's URL is unversioned."""
    v20 = {
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": f"{base_url(request)}/compute/v2/"}],
    }
    return {"versions": [v20, _v21(request)]}


@router.get("/v2.1")
@router.get("/v2.1/", include_in_schema=False)
def version(request: Request) -> dict[str, Any]:
    """The v2.1 document: ``version`` is the highest microversion, which the SDK then sends."""
    return {"version": _v21(request)}
