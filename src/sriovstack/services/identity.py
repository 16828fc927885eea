"""Projects, users, roles and tokens: password login, hashed passwords, expiring tokens."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sriovstack.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from sriovstack.services.environment import ADMIN, AGENT, MEMBER, READER, Caller, Environment
from sriovstack.store.identity_tables import ProjectRow, RoleAssignmentRow, TokenRow, UserRow
from sriovstack.store.querying import Session, add_rows, find_rows, get_row

ROLES = (ADMIN, MEMBER, READER, AGENT)
SERVICE_PROJECT = "service"  # where agents' users live, as OpenStack's service users do
# scrypt with N=2**14, r=8, p=1: the interactive-login cost RFC 7914 suggests.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token (shown once; the store keeps only its digest) and who it speaks for."""

    token: str
    caller: Caller
    issued_at: datetime
    expires_at: datetime
    audit_id: str


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash of ``password`` in a self-describing text form."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "scrypt${n}${r}${p}${salt}${digest}".format(
        **_SCRYPT, salt=_b64(salt), digest=_b64(digest)
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (compared in constant time)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed, _unb64(digest))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_project(env: Environment, name: str, description: str = "") -> str:
    """A new project; its name must be free."""
    _check_name("project name", name)
    with env.unit_of_work() as uow:
        if find_rows(uow.session, ProjectRow, where={"name": name}):
            raise Conflict(f"project {name} already exists")
        project_id = secrets.token_hex(16)
        add_rows(uow.session, [ProjectRow(id=project_id, name=name, description=description)])
        uow.commit()
    return project_id


def create_user(
    env: Environment,
    name: str,
    password: str,
    *,
    roles: dict[str, tuple[str, ...]] | None = None,
    host: str | None = None,
) -> str:
    """A new user with ``roles`` per project name; ``host`` makes it that host's agent."""
    _check_name("user name", name)
    if len(password) < 8:
        raise InvalidInput("password", "must be at least 8 characters")
    with env.unit_of_work() as uow:
        if find_rows(uow.session, UserRow, where={"name": name}):
            raise Conflict(f"user {name} already exists")
        user_id = secrets.token_hex(16)
        rows: list[UserRow | RoleAssignmentRow] = [
            UserRow(id=user_id, name=name, password_hash=hash_password(password), host=host)
        ]
        for project_name, project_roles in (roles or {}).items():
            project = _project_named(uow.session, project_name)
            for role in project_roles:
                if role not in ROLES:
                    raise InvalidInput("role", f"must be one of {', '.join(ROLES)}", role)
                rows.append(RoleAssignmentRow(user_id=user_id, project_id=project.id, role=role))
        add_rows(uow.session, rows[:1])
        add_rows(uow.session, rows[1:])
        uow.commit()
    return user_id


def ensure_bootstrap(env: Environment, *, admin_password: str, demo_password: str) -> bool:
    """DevStack's starting point, made once: projects admin, demo and service; users admin
    (admin in admin and demo) and demo (member in demo). Later calls change nothing; whether
    this call made them."""
    with env.unit_of_work() as uow:
        done = bool(find_rows(uow.session, UserRow, where={"name": "admin"}))
    if done:
        return False
    for project in ("admin", "demo", SERVICE_PROJECT):
        create_project(env, project, f"the {project} project")
    create_user(env, "admin", admin_password, roles={"admin": (ADMIN,), "demo": (ADMIN,)})
    create_user(env, "demo", demo_password, roles={"demo": (MEMBER,)})
    return True


def create_agent_user(env: Environment, host: str, password: str) -> str:
    """The credentials an agent logs in with: they speak for ``host`` only."""
    return create_user(env, f"agent-{host}", password, roles={SERVICE_PROJECT: (AGENT,)}, host=host)


def issue_token(
    env: Environment,
    *,
    user_name: str | None = None,
    user_id: str | None = None,
    password: str,
    project_name: str | None = None,
    project_id: str | None = None,
) -> IssuedToken:
    """Log in with a password, scoped to a project the user has a role in."""
    now = env.now()
    with env.unit_of_work() as uow:
        user = _user(uow.session, user_name, user_id)
        # Hash even for an unknown user, so timing does not tell which names exist.
        stored = user.password_hash if user is not None else _dummy_hash()
        if not verify_password(password, stored) or user is None or not user.enabled:
            raise Unauthenticated()
        project = _scope_project(uow.session, user, project_name, project_id)
        roles = frozenset(
            row.role
            for row in find_rows(
                uow.session, RoleAssignmentRow, where={"user_id": user.id, "project_id": project.id}
            )
        )
        if not roles:
            raise Unauthenticated(f"user {user.name} has no role in project {project.name}")
        token = secrets.token_urlsafe(32)
        audit_id = secrets.token_hex(8)
        expires = now + env.settings.token_ttl
        add_rows(
            uow.session,
            [
                TokenRow(
                    digest=token_digest(token),
                    user_id=user.id,
                    project_id=project.id,
                    roles=",".join(sorted(roles)),
                    audit_id=audit_id,
                    issued_at=now,
                    expires_at=expires,
                )
            ],
        )
        caller = Caller(user.id, user.name, project.id, project.name, roles, user.host)
        uow.commit()
    return IssuedToken(token, caller, now, expires, audit_id)


def authenticate(env: Environment, token: str | None) -> Caller:
    """The caller a token speaks for; Unauthenticated when it is unknown or expired."""
    if not token:
        raise Unauthenticated()
    with env.unit_of_work() as uow:
        row = get_row(uow.session, TokenRow, token_digest(token))
        if row is None or row.expires_at <= env.now() or row.project_id is None:
            raise Unauthenticated()
        user = get_row(uow.session, UserRow, row.user_id)
        project = get_row(uow.session, ProjectRow, row.project_id)
        if user is None or project is None or not user.enabled or not project.enabled:
            raise Unauthenticated()
        return Caller(
            user.id,
            user.name,
            project.id,
            project.name,
            frozenset(row.roles.split(",")),
            user.host,
        )


def list_projects(
    env: Environment, caller: Caller, *, name: str | None = None
) -> list[dict[str, object]]:
    """Projects as Keystone shows them: all for an admin, the caller's own otherwise."""
    with env.unit_of_work() as uow:
        where: dict[str, object] = {} if name is None else {"name": name}
        if not caller.is_admin:
            where["id"] = caller.project_id
        return [
            {
                "id": row.id,
                "name": row.name,
                "description": row.description,
                "enabled": row.enabled,
                "domain_id": "default",
                "is_domain": False,
                "parent_id": "default",
            }
            for row in find_rows(uow.session, ProjectRow, where=where, order_by=("name",))
        ]


def _user(session: Session, name: str | None, user_id: str | None) -> UserRow | None:
    if user_id is not None:
        return get_row(session, UserRow, user_id)
    if name is None:
        raise InvalidInput("auth.identity.password.user", "needs a name or an id")
    return next(iter(find_rows(session, UserRow, where={"name": name})), None)


def _project_named(session: Session, name: str) -> ProjectRow:
    found = find_rows(session, ProjectRow, where={"name": name})
    if not found:
        raise NotFound("project", name)
    return found[0]


def _scope_project(
    session: Session, user: UserRow, name: str | None, project_id: str | None
) -> ProjectRow:
    """The project a login is scoped to: the one asked for, else the user's only or first one."""
    if project_id is not None:
        project = get_row(session, ProjectRow, project_id)
    elif name is not None:
        project = next(iter(find_rows(session, ProjectRow, where={"name": name})), None)
    else:
        # Unscoped logins are scoped to the user's first project: every API call needs one.
        assigned = find_rows(session, RoleAssignmentRow, where={"user_id": user.id})
        project = get_row(session, ProjectRow, assigned[0].project_id) if assigned else None
    if project is None or not project.enabled:
        raise Unauthenticated(f"no such project for user {user.name}")
    return project


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a password", salt=b"\0" * 16)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def _check_name(field: str, name: str) -> None:
    if not name or len(name) > 64 or name != name.strip():
        raise InvalidInput(
            field, "must be 1-64 characters without leading or trailing spaces", name
        )
