"""How an agent logs in: its own credentials, the ones it saved, or by registering its host."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sriovstack.agent.config import (
    AgentConfig,
    Credentials,
    read_saved_credentials,
    save_credentials,
)
from sriovstack.client import ApiError, Client
from sriovstack.domain.errors import Conflict


@dataclass
class Login:
    """Logs the agent's client in: with its configured credentials, the ones it saved when it
    registered its host, or (the first time) by registering the host with an admin's."""

    settings: AgentConfig
    client: Client
    note: Callable[[str], object]  # one line for people, e.g. that the host was registered

    def __call__(self) -> None:
        credentials, origin = self._credentials()
        try:
            self.client.login(credentials.user, credentials.password, credentials.project)
        except ApiError as exc:
            if exc.status != 401:
                raise
            why = f"login as {credentials.user} ({origin}) refused: {exc.message}"
            raise ApiError(401, why, exc.body) from None

    def _credentials(self) -> tuple[Credentials, str]:
        api, host = self.settings.api, self.settings.host
        if api.credentials is not None:
            return api.credentials, "[api] user"
        path = host.credentials_file
        saved = read_saved_credentials(path, host=host.name)
        if saved is not None:
            return saved, f"saved in {path}"
        assert api.register is not None  # the configuration has one or the other
        credentials = register_host(api.url, api.register, host.name)
        save_credentials(path, credentials, host=host.name, url=api.url)
        self.note(f"registered host {host.name}; its agent's credentials are in {path}")
        return credentials, f"saved in {path}"


def register_host(url: str, admin: Credentials, host: str) -> Credentials:
    """Register ``host`` as ``admin`` (POST /v1/hosts); its agent's credentials."""
    with Client(url) as client:
        try:
            client.login(admin.user, admin.password, admin.project)
        except ApiError as exc:
            if exc.status != 401:
                raise
            why = f"[api.register] login as {admin.user} in project {admin.project} refused"
            raise ApiError(401, f"{why}: {exc.message}", exc.body) from None
        try:
            body = client.post("/v1/hosts", {"name": host})
        except ApiError as exc:
            if exc.status != 409:
                raise
            raise Conflict(
                f"host {host} is already registered, and this agent has no credentials for it: "
                "put the agent credentials given when it was registered in [api] user and "
                "password (or restore the credentials file in [host] state_dir)"
            ) from None
    given = body["host"]["agent_credentials"]
    return Credentials(str(given["user"]), str(given["password"]), str(given["project"]))
