"""What every use case runs with: the database, the settings, the clock, and who is calling."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sriovstack.domain.errors import Forbidden, NotFound
from sriovstack.services.settings import Settings
from sriovstack.store.database import Database
from sriovstack.store.unit_of_work import SqlUnitOfWork

ADMIN, MEMBER, READER, AGENT = "admin", "member", "reader", "agent"


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Environment:
    """The composition the services share; time and IDs are parameters, so tests can fix them."""

    database: Database
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], datetime] = utc_now
    new_id: Callable[[], str] = new_uuid

    def unit_of_work(self) -> SqlUnitOfWork:
        return self.database.unit_of_work()

    def now(self) -> datetime:
        return self.clock()


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: a user scoped to a project with roles, or a host's agent."""

    user_id: str
    user_name: str
    project_id: str
    project_name: str
    roles: frozenset[str]
    host: str | None = None  # set for an agent: the one host it speaks for

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def require_admin(self, action: str) -> None:
        if not self.is_admin:
            raise Forbidden(f"{action} needs the admin role")

    def require_member(self, action: str) -> None:
        """Members and admins change things in their project; readers and agents do not."""
        if not ({ADMIN, MEMBER} & self.roles):
            raise Forbidden(f"{action} needs the member or admin role in the project")

    def require_host(self, host: str) -> None:
        """Agents may speak only for their own host; admins for any."""
        if self.is_admin:
            return
        if AGENT not in self.roles or self.host != host:
            raise Forbidden(f"only the agent of host {host} (or an admin) may do this")

    def sees(self, project_id: str, *, shared: bool = False) -> bool:
        return self.is_admin or shared or project_id == self.project_id

    def check_visible(self, kind: str, key: str, project_id: str, *, shared: bool = False) -> None:
        """Refuse a resource of another project as if it did not exist, as Neutron and Nova do."""
        if not self.sees(project_id, shared=shared):
            raise NotFound(kind, key)

    def project_for(self, body: Mapping[str, Any]) -> str:
        """The project a new resource belongs to: the caller's, or another one an admin names."""
        project_id = body.get("project_id") or body.get("tenant_id")
        if project_id and project_id != self.project_id:
            self.require_admin("creating a resource in another project")
            return str(project_id)
        return self.project_id

    def scope(self) -> str | None:
        """The project to restrict listings to; None for an admin, who sees every project."""
        return None if self.is_admin else self.project_id
