"""A running API server on loopback with DevStack's users, for the API tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sriovstack.api.app import create_app
from sriovstack.api.serving import start_in_thread
from sriovstack.client import Client
from sriovstack.domain.mappings import parse_network_vlan_ranges
from sriovstack.services import identity
from sriovstack.services.environment import Environment
from sriovstack.services.settings import Settings
from sriovstack.store.database import Database

# physnet1 as in the talk (with tenant VLANs); physnet2 for provider networks only.
TEST_SETTINGS = Settings(
    network_vlan_ranges=parse_network_vlan_ranges("physnet1:3001:4000,physnet2"),
    # No agent finishes these boots: a GET of a BUILD server answers at once (tests of the
    # wait set it themselves).
    build_wait=timedelta(0),
)
ADMIN_PASSWORD = "admin-secret"
DEMO_PASSWORD = "demo-secret"


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 25, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Cloud:
    """The server's URL and environment, and how to log in to it."""

    url: str
    env: Environment
    clock: Clock
    clients: list[Client] = field(default_factory=list)

    def client(self, user: str = "admin", project: str | None = None) -> Client:
        """A client logged in as ``user``, closed when the test ends."""
        password = {"admin": ADMIN_PASSWORD, "demo": DEMO_PASSWORD}.get(user, f"{user}-secret")
        client = Client(self.url)
        self.clients.append(client)
        client.login(user, password, project or ("admin" if user == "admin" else "demo"))
        return client

    def add_member(self, user: str, project: str) -> Client:
        """A new user with the member role in a new project, logged in."""
        identity.create_project(self.env, project)
        identity.create_user(self.env, user, f"{user}-secret", roles={project: ("member",)})
        return self.client(user, project)


@contextmanager
def running_cloud(database_url: str, settings: Settings | None = None) -> Iterator[Cloud]:
    clock = Clock()
    database = Database.open(database_url, pool_size=10)
    env = Environment(
        database, replace(settings or TEST_SETTINGS, database_url=database_url), clock=clock
    )
    identity.ensure_bootstrap(env, admin_password=ADMIN_PASSWORD, demo_password=DEMO_PASSWORD)
    server = start_in_thread(create_app(env))
    cloud = Cloud(server.url, env, clock)
    try:
        yield cloud
    finally:
        for client in cloud.clients:
            client.close()
        server.stop()
        database.close()
