"""The typed HTTP client the CLI and the agent use: the only module that imports httpx."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import httpx

DEFAULT_TIMEOUT = 30.0


class Unreachable(Exception):
    """The API server did not answer (refused, timed out, or the connection broke)."""


class ApiError(Exception):
    """The API refused a request; ``message`` is the server's own words."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        self.status = status
        self.message = message
        self.body = body
        super().__init__(f"{message} (HTTP {status})")


@dataclass(frozen=True, slots=True)
class Session:
    """Who the client is logged in as."""

    token: str
    user_id: str
    project_id: str
    project_name: str
    roles: tuple[str, ...]
    expires_at: str


class Client:
    """Requests to one sriovstack API server, authenticated with a token once logged in."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.session: Session | None = None
        self._token = token
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def token(self) -> str | None:
        return self._token

    def login(self, user: str, password: str, project: str | None = None) -> Session:
        """A Keystone v3 password login; later requests carry the token."""
        body: dict[str, Any] = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "password": password, "domain": {"id": "default"}}
                    },
                }
            }
        }
        if project is not None:
            body["auth"]["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        response = self._send("POST", "/identity/v3/auth/tokens", json=body)
        data = self._check(response)
        token = response.headers["X-Subject-Token"]
        info = data["token"]
        self._token = token
        self.session = Session(
            token=token,
            user_id=info["user"]["id"],
            project_id=info["project"]["id"],
            project_name=info["project"]["name"],
            roles=tuple(role["name"] for role in info["roles"]),
            expires_at=info["expires_at"],
        )
        return self.session

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request; the decoded JSON body, None for an empty one; ApiError on 4xx/5xx.

        ``timeout`` overrides the client's for this request (a long-poll waits longer).
        """
        sent = dict(headers or {})
        if self._token:
            sent["X-Auth-Token"] = self._token
        options: dict[str, Any] = {"json": json, "params": params, "headers": sent}
        if timeout is not None:
            options["timeout"] = timeout
        response = self._send(method, path, **options)
        return self._check(response)

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **options)
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise Unreachable(f"cannot reach the API at {self.url}: {reason}") from exc

    def get(self, path: str, **params: str) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    @staticmethod
    def _check(response: httpx.Response) -> Any:
        data: Any = None
        if response.content:
            try:
                data = response.json()
            except ValueError:
                data = response.text
        if response.status_code >= 400:
            raise ApiError(response.status_code, error_message(data, response.reason_phrase), data)
        return data


def error_message(body: Any, fallback: str) -> str:
    """The message of any of the error shapes the API families use (as openstacksdk reads them)."""
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return str(body["message"])
        for value in body.values():
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])
    return fallback
