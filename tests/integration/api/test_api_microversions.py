"""Compute version documents and microversion negotiation over HTTP, in both header styles."""

from __future__ import annotations

import httpx
import pytest
from starlette.datastructures import Headers
from tests.integration.api.cloud import Cloud

from sriovstack.api.microversions import ComputeVersion, parse_compute_version

NEW, LEGACY = "OpenStack-API-Version", "X-OpenStack-Nova-API-Version"


def get(cloud: Cloud, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """A GET as the admin, with the given headers; the raw response, headers and all."""
    token = cloud.client("admin").token or ""
    return httpx.get(f"{cloud.url}{path}", headers={"X-Auth-Token": token, **(headers or {})})


@pytest.mark.parametrize("path", ["/compute", "/compute/"])
def test_the_compute_root_lists_v2_1_with_its_range_without_a_token(
    cloud: Cloud, path: str
) -> None:
    response = httpx.get(f"{cloud.url}{path}")
    assert response.status_code == 200
    versions = {v["id"]: v for v in response.json()["versions"]}
    assert versions["v2.1"]["status"] == "CURRENT"
    assert (versions["v2.1"]["min_version"], versions["v2.1"]["version"]) == ("2.1", "2.96")
    assert versions["v2.1"]["links"][0]["href"] == f"{cloud.url}/compute/v2.1/"


@pytest.mark.parametrize("path", ["/compute/v2.1", "/compute/v2.1/"])
def test_the_v2_1_document_gives_the_range_without_a_token(cloud: Cloud, path: str) -> None:
    response = httpx.get(f"{cloud.url}{path}")
    assert response.status_code == 200
    version = response.json()["version"]
    assert version["id"] == "v2.1"
    assert version["min_version"] == "2.1"
    assert version["version"] == "2.96"
    assert version["links"][0] == {"rel": "self", "href": f"{cloud.url}/compute/v2.1/"}
    assert version["media-types"][0]["base"] == "application/json"


def test_a_request_without_a_version_is_answered_at_2_1_and_says_so(cloud: Cloud) -> None:
    response = get(cloud, "/compute/v2.1/flavors")
    assert response.status_code == 200
    assert response.headers[NEW] == "compute 2.1"
    assert response.headers[LEGACY] == "2.1"
    assert NEW in response.headers["Vary"]
    assert LEGACY in response.headers["Vary"]


@pytest.mark.parametrize(
    ("headers", "answered"),
    [
        ({NEW: "compute 2.61", LEGACY: "2.61"}, "2.61"),  # OSC and the SDK send both
        ({LEGACY: "2.12"}, "2.12"),  # novaclient 3.2.0 sent only the legacy header
        ({NEW: "compute 2.53"}, "2.53"),
        ({NEW: "compute latest"}, "2.96"),
        ({LEGACY: "latest"}, "2.96"),
        ({NEW: "compute 2.30", LEGACY: "2.10"}, "2.30"),  # the new header wins
        ({NEW: "network 2.0", LEGACY: "2.40"}, "2.40"),  # another service's entry is not ours
        ({NEW: "network 1.0, compute 2.75"}, "2.75"),
    ],
)
def test_both_header_styles_are_honoured_and_echoed(
    cloud: Cloud, headers: dict[str, str], answered: str
) -> None:
    response = get(cloud, "/compute/v2.1/os-keypairs", headers)
    assert response.status_code == 200
    assert response.headers[NEW] == f"compute {answered}"
    assert response.headers[LEGACY] == answered


@pytest.mark.parametrize("asked", ["2.97", "2.0", "3.0", "1.1"])
def test_a_version_out_of_range_is_406_in_novas_words(cloud: Cloud, asked: str) -> None:
    response = get(cloud, "/compute/v2.1/flavors", {NEW: f"compute {asked}", LEGACY: asked})
    assert response.status_code == 406
    fault = response.json()["computeFault"]
    assert fault["code"] == 406
    assert fault["message"] == (
        f"Version {asked} is not supported by the API. Minimum is 2.1 and maximum is 2.96."
    )


@pytest.mark.parametrize(
    "path", ["/compute/v2.1/servers/nope", "/compute/v2.1/no-such-thing", "/compute/v2.1/flavors/x"]
)
def test_a_refusal_says_which_version_refused_it(cloud: Cloud, path: str) -> None:
    # As Nova's faults do; novaclient warns of a missing header otherwise.
    response = get(cloud, path, {NEW: "compute 2.60", LEGACY: "2.60"})
    assert response.status_code == 404
    assert (response.headers[NEW], response.headers[LEGACY]) == ("compute 2.60", "2.60")
    assert "itemNotFound" in response.json()


def test_a_refused_version_is_not_echoed(cloud: Cloud) -> None:
    response = get(cloud, "/compute/v2.1/flavors", {LEGACY: "2.97"})
    assert response.status_code == 406
    assert NEW not in response.headers and LEGACY not in response.headers


@pytest.mark.parametrize("asked", ["2.x", "2.01", "two", "2"])
def test_a_malformed_version_is_a_bad_request_as_in_nova(cloud: Cloud, asked: str) -> None:
    response = get(cloud, "/compute/v2.1/flavors", {LEGACY: asked})
    assert response.status_code == 400
    assert "is of invalid format" in response.json()["badRequest"]["message"]


def test_image_requests_ignore_compute_headers(cloud: Cloud) -> None:
    # novaclient sends its compute version on image lookups too.
    response = get(cloud, "/image/v2/images", {NEW: "compute 9.99", LEGACY: "9.99"})
    assert response.status_code == 200
    assert NEW not in response.headers


def test_version_objects_compare_by_number_not_text() -> None:
    version = parse_compute_version(Headers({LEGACY: "2.10"}))
    assert version == ComputeVersion(2, 10)
    assert version.at_least(9) and version.at_least(10) and not version.at_least(11)
    assert str(version) == "2.10"
    assert parse_compute_version(Headers({})) == ComputeVersion(2, 1)
