"""Talking to a sriovstack cloud: the OS_* credentials, the logged-in client, name-or-ID lookups."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import typer

from sriovstack.client import ApiError, Client
from sriovstack.client import Unreachable as ClientUnreachable
from sriovstack.domain.errors import Conflict, InvalidInput, NotFound, SriovstackError

PANEL = "Credentials (default: the OS_* variables an openrc exports)"
COMPUTE_VERSION = "2.61"
"""The Nova microversion we speak: UUID hypervisor IDs (2.53) and extra specs in flavors (2.61)."""
_IDENTITY_SUFFIXES = ("/identity/v3", "/identity", "/v3")

AuthUrl = Annotated[
    str | None,
    typer.Option(
        "--os-auth-url",
        envvar="OS_AUTH_URL",
        metavar="URL",
        help="The identity URL, e.g. http://127.0.0.1:8774/identity.",
        rich_help_panel=PANEL,
    ),
]
Username = Annotated[
    str | None,
    typer.Option("--os-username", envvar="OS_USERNAME", metavar="USER", rich_help_panel=PANEL),
]
Password = Annotated[
    str | None,
    typer.Option("--os-password", envvar="OS_PASSWORD", metavar="PASSWORD", rich_help_panel=PANEL),
]
ProjectName = Annotated[
    str | None,
    typer.Option(
        "--os-project-name",
        envvar=["OS_PROJECT_NAME", "OS_TENANT_NAME"],
        metavar="PROJECT",
        rich_help_panel=PANEL,
    ),
]
_OPTIONS: tuple[tuple[str, Any, str], ...] = (
    ("os_auth_url", AuthUrl, "OS_AUTH_URL"),
    ("os_username", Username, "OS_USERNAME"),
    ("os_password", Password, "OS_PASSWORD"),
    ("os_project_name", ProjectName, "OS_PROJECT_NAME"),
)


class MissingCredential(InvalidInput):
    """A credential neither given as an option nor set in the environment."""

    def __init__(self, variable: str, option: str) -> None:
        self.field, self.rule, self.value = variable, "is not set", None
        SriovstackError.__init__(
            self,
            f"{variable} is not set (nor {option} given): source an openrc, e.g. "
            "`. openrc admin demo`; `sriovstack serve` prints one",
        )


class NoSuch(NotFound):
    """No resource of a kind has the name or ID a person gave."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind, self.key = kind, key
        SriovstackError.__init__(self, f"No {kind} with a name or ID of '{key}' exists.")


class Ambiguous(Conflict):
    """Several resources of a kind share the name a person gave."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind, self.key = kind, key
        super().__init__(f"More than one {kind} named '{key}' exists: use its ID.")


class Unreachable(SriovstackError):
    """The API server did not answer at all (refused, timed out, bad address)."""


@dataclass(frozen=True, slots=True)
class Login:
    """The credentials a cloud command runs with, from its options or the environment."""

    auth_url: str | None = None
    username: str | None = None
    password: str | None = None
    project: str | None = None

    def api_url(self) -> str:
        """The API's base URL: the auth URL without its identity suffix."""
        url = self._required(self.auth_url, 0).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InvalidInput("--os-auth-url", "must be an http:// or https:// URL", url)
        for suffix in _IDENTITY_SUFFIXES:
            if url.endswith(suffix):
                return url.removesuffix(suffix)
        return url

    def checked(self) -> tuple[str, str, str, str]:
        """(API URL, user, password, project), or the first missing one named."""
        return (
            self.api_url(),
            self._required(self.username, 1),
            self._required(self.password, 2),
            self._required(self.project, 3),
        )

    @staticmethod
    def _required(value: str | None, index: int) -> str:
        if not value:
            name, _, variable = _OPTIONS[index]
            raise MissingCredential(variable, "--" + name.replace("_", "-"))
        return value


Command = TypeVar("Command", bound=Callable[..., Any])


def cloud_command(group: typer.Typer, name: str) -> Callable[[Command], Command]:
    """Register ``func`` as ``group name``; its ``login: Login`` parameter becomes the four
    ``--os-*`` options, so every command takes them where a person types them."""

    def register(func: Command) -> Command:
        signature = inspect.signature(func, eval_str=True)
        kept = [p for p in signature.parameters.values() if p.name != "login"]
        if len(kept) == len(signature.parameters):
            raise TypeError(f"{func.__name__} must take login: Login")
        added = [
            inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
            for key, kind, _ in _OPTIONS
        ]
        exposed = signature.replace(parameters=[*kept, *added])

        @functools.wraps(func)
        def command(**values: Any) -> Any:
            login = Login(*(values.pop(key) for key, _, _ in _OPTIONS))
            return func(login=login, **values)

        command.__signature__ = exposed  # type: ignore[attr-defined]
        # Typer reads the annotations too; the wrapped function's dict must stay untouched.
        command.__annotations__ = {p.name: p.annotation for p in exposed.parameters.values()}
        group.command(name)(command)
        return func

    return register


@dataclass
class Cloud:
    """A logged-in client; compute calls carry the microversion we speak."""

    client: Client
    project_id: str = ""

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        headers = (
            {"OpenStack-API-Version": f"compute {COMPUTE_VERSION}"}
            if path.startswith("/compute")
            else None
        )
        return self.client.request(method, path, json=body, params=params, headers=headers)

    def get(self, path: str, **params: str) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> None:
        self.request("DELETE", path)


@contextmanager
def connect(login: Login, *, timeout: float = 30.0) -> Iterator[Cloud]:
    """Log in with ``login`` and yield the cloud; a server that does not answer is one line."""
    url, user, password, project = login.checked()
    client = Client(url, timeout=timeout)
    try:
        try:
            session = client.login(user, password, project)
        except ApiError as exc:
            if exc.status != 401:
                raise
            raise ApiError(
                401, f"login as {user} in project {project} refused: {exc.message}", exc.body
            ) from None
        yield Cloud(client, session.project_id)
    except ClientUnreachable as exc:
        raise Unreachable(str(exc)) from None
    finally:
        client.close()


@dataclass(frozen=True, slots=True)
class Kind:
    """Where one kind of resource lives, and how to find one by name or ID."""

    name: str  # as people say it: "network", "security group"
    path: str  # the collection: GET path/ID shows one
    many: str  # the list's key
    one: str | None  # the shown object's key; None when the object is the whole body (Glance)
    listing: str | None = None  # a different path to list in detail (Nova's /detail)
    name_key: str = "name"
    name_filter: str | None = "name"  # the server-side exact filter; None: list all, match here
    list_params: Mapping[str, str] = field(default_factory=dict)
    missing_is_empty: bool = False  # a list with no match answers 404 (Nova's hypervisors)

    def list(self, cloud: Cloud, **params: str) -> list[dict[str, Any]]:
        try:
            body = cloud.get(self.listing or self.path, **self.list_params, **params)
        except ApiError as exc:
            if self.missing_is_empty and exc.status == 404 and params:
                return []
            raise
        found: list[dict[str, Any]] = body[self.many]
        return found

    def show(self, cloud: Cloud, key: str) -> dict[str, Any]:
        body = cloud.get(f"{self.path}/{quote(key, safe='')}")
        shown: dict[str, Any] = body if self.one is None else body[self.one]
        return shown

    def find(self, cloud: Cloud, key: str) -> dict[str, Any]:
        """By exact name first, then by ID; a name shared across projects prefers ours."""
        params = {self.name_filter: key} if self.name_filter else {}
        named = [item for item in self.list(cloud, **params) if item.get(self.name_key) == key]
        if len(named) > 1:
            ours = [item for item in named if _project(item) == cloud.project_id]
            named = ours if len(ours) == 1 else named
        if len(named) > 1:
            raise Ambiguous(self.name, key)
        if named:
            return named[0]
        try:
            return self.show(cloud, key)
        except ApiError as exc:
            # A key that is not an ID of the right shape is a 400 for some services.
            if exc.status in (400, 404):
                raise NoSuch(self.name, key) from None
            raise

    def find_id(self, cloud: Cloud, key: str) -> str:
        return str(self.find(cloud, key)["id"])

    def delete(self, cloud: Cloud, key: str) -> dict[str, str]:
        """Find one by name or ID and delete it; what was deleted."""
        found = self.find(cloud, key)
        cloud.delete(f"{self.path}/{found['id']}")
        return {"id": str(found["id"]), "name": str(found.get(self.name_key) or "")}


def _project(item: Mapping[str, Any]) -> Any:
    return item.get("project_id") or item.get("tenant_id") or item.get("owner")


NEUTRON = "/networking/v2.0"
NOVA = "/compute/v2.1"
NETWORK = Kind("network", f"{NEUTRON}/networks", "networks", "network")
SUBNET = Kind("subnet", f"{NEUTRON}/subnets", "subnets", "subnet")
PORT = Kind("port", f"{NEUTRON}/ports", "ports", "port")
SECURITY_GROUP = Kind(
    "security group", f"{NEUTRON}/security-groups", "security_groups", "security_group"
)
SERVER = Kind("server", f"{NOVA}/servers", "servers", "server", listing=f"{NOVA}/servers/detail")
FLAVOR = Kind(
    "flavor",
    f"{NOVA}/flavors",
    "flavors",
    "flavor",
    listing=f"{NOVA}/flavors/detail",
    name_filter=None,  # Nova has no name filter on flavors
    list_params={"is_public": "None"},  # every flavor the caller may see, as novaclient asks
)
IMAGE = Kind("image", "/image/v2/images", "images", None)
HYPERVISOR = Kind(
    "hypervisor",
    f"{NOVA}/os-hypervisors",
    "hypervisors",
    "hypervisor",
    listing=f"{NOVA}/os-hypervisors/detail",
    name_key="hypervisor_hostname",
    name_filter="hypervisor_hostname_pattern",
    missing_is_empty=True,
)
