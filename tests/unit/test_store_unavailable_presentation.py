"""StoreUnavailable as people and clients see it: HTTP 503 in each family's shape, exit code 1."""

from __future__ import annotations

from sriovstack.api.errors import error_body, neutron_type, status_of
from sriovstack.cli.errors import api_exit_code, exit_code, one_line
from sriovstack.client import ApiError
from sriovstack.domain.errors import StoreUnavailable

ERROR = StoreUnavailable(
    "postgresql+psycopg://cloud:***@db:5432/cloud", "connection failed: Connection refused"
)
MESSAGE = (
    "the database postgresql+psycopg://cloud:***@db:5432/cloud is unreachable: "
    "connection failed: Connection refused"
)


def test_it_is_a_503_named_service_unavailable() -> None:
    assert status_of(ERROR) == 503
    assert neutron_type(ERROR) == "ServiceUnavailable"


def test_each_family_gets_its_own_body() -> None:
    def body(path: str) -> object:
        return error_body(path, 503, str(ERROR), kind=neutron_type(ERROR))

    assert body("/compute/v2.1/servers") == {
        "serviceUnavailable": {"code": 503, "message": MESSAGE}
    }
    assert body("/networking/v2.0/ports") == {
        "NeutronError": {"type": "ServiceUnavailable", "message": MESSAGE, "detail": ""}
    }
    assert body("/identity/v3/auth/tokens") == {
        "error": {"code": 503, "message": MESSAGE, "title": "Service Unavailable"}
    }
    assert body("/v1/hosts") == {
        "error": {"code": 503, "type": "ServiceUnavailable", "message": MESSAGE}
    }


def test_the_command_line_says_one_line_and_exits_1() -> None:
    assert one_line(ERROR) == f"sriovstack: error: {MESSAGE}"
    assert exit_code(ERROR) == 1
    assert api_exit_code(ApiError(503, MESSAGE)) == 1
