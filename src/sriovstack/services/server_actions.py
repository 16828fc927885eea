"""Nova's server actions (``POST /servers/{id}/action``): each checked as Nova checks it at the
requested microversion; none is carried out yet, so each that passes is refused with 409."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sriovstack.domain.errors import Conflict, InvalidInput
from sriovstack.services.environment import Caller, Environment
from sriovstack.services.servers import HOST_NAME, visible_server

# Nova's parameter_types.boolean: JSON booleans, and these strings.
_NOVA_BOOLEAN_TEXT = frozenset(
    {"True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes"}
    | {"False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"}
)
BLOCK_MIGRATION_AUTO_SINCE = 25  # "auto" arrives and disk_over_commit goes
FORCE_SINCE, FORCE_UNTIL = 30, 68  # live migration's "force": from 2.30, gone again in 2.68
MIGRATE_HOST_SINCE = 56  # cold migration's body: null before, {host} from 2.56


class NoSuchAction(InvalidInput):
    """An action name Nova does not know, refused in Nova's own words."""

    def __init__(self, action: str) -> None:
        super().__init__("action", "is not a server action", action)

    def __str__(self) -> str:
        return f"There is no such action: {self.value}"


def server_action(
    env: Environment, caller: Caller, server_id: str, body: Any, *, minor: int = 1
) -> None:
    """A server action, ``{"<action>": {...}}`` (Nova's ``POST /servers/{id}/action``).

    As in Nova, the body is checked first (its shape, the action's name, the action's schema at
    microversion 2.``minor``), then the server is looked up (404), then the caller's role (both
    migrations are admin-only in Nova's policy). No action is supported yet: each one that gets
    this far is refused, and nothing changes.
    """
    name, arguments = _action_of(body)
    known = _ACTIONS.get(name)
    if known is None:
        raise NoSuchAction(name)
    check, what = known
    check(arguments, minor)
    with env.unit_of_work() as uow:
        found = visible_server(uow.session, caller, server_id).id
    caller.require_admin(f"{name} of a server")
    # 409, not 400: the request is valid (Nova's own schema accepts it) and the cloud, not the
    # caller, is what cannot do it; a 400 would tell the user to fix a command that is right.
    # Nova also answers os-migrateLive with 409 when a server cannot move now, so clients and
    # scripts already read it as "not here, not now": novaclient prints
    # "ERROR (Conflict): <this message> (HTTP 409)".
    raise Conflict(f"{what} is not supported by sriovstack yet: server {found} was not moved.")


def _action_of(body: Any) -> tuple[str, Any]:
    if not isinstance(body, dict) or len(body) != 1:
        raise InvalidInput(
            "body", 'must be a JSON object with one key, the action: {"<action>": {...}}'
        )
    ((name, arguments),) = body.items()
    return str(name), arguments


def _check_live_migration(arguments: Any, minor: int) -> None:
    """Nova's os-migrateLive schema at 2.``minor`` (schemas/migrate_server.py)."""
    if not isinstance(arguments, dict):
        raise InvalidInput("os-migrateLive", "must be an object: {host, block_migration}")
    required = {"host", "block_migration"}
    if minor < BLOCK_MIGRATION_AUTO_SINCE:
        required.add("disk_over_commit")
    allowed = required | ({"force"} if FORCE_SINCE <= minor < FORCE_UNTIL else set())
    unknown, missing = sorted(set(arguments) - allowed), sorted(required - set(arguments))
    if unknown:
        rule = f"is not an attribute of os-migrateLive at microversion 2.{minor}"
        raise InvalidInput(f"os-migrateLive.{unknown[0]}", rule, arguments[unknown[0]])
    if missing:
        raise InvalidInput(f"os-migrateLive.{missing[0]}", "is required")
    _check_host(arguments["host"], "os-migrateLive.host")
    auto = minor >= BLOCK_MIGRATION_AUTO_SINCE
    for key in sorted(set(arguments) - {"host"}):
        value = arguments[key]
        if _nova_boolean(value) or (auto and key == "block_migration" and value == "auto"):
            continue
        either = auto and key == "block_migration"
        rule = 'must be "auto" or a boolean' if either else "must be a boolean"
        raise InvalidInput(f"os-migrateLive.{key}", rule, value)


def _check_cold_migration(arguments: Any, minor: int) -> None:
    """Nova's migrate schema: before 2.56 the body is not read at all; then null or {host}."""
    if minor < MIGRATE_HOST_SINCE or arguments is None:
        return
    if not isinstance(arguments, dict):
        raise InvalidInput("migrate", "must be null or an object: {host}", arguments)
    unknown = sorted(set(arguments) - {"host"})
    if unknown:
        rule = "is not an attribute of migrate"
        raise InvalidInput(f"migrate.{unknown[0]}", rule, arguments[unknown[0]])
    _check_host(arguments.get("host"), "migrate.host")


def _check_host(value: Any, field: str) -> None:
    if value is not None and not (isinstance(value, str) and HOST_NAME.fullmatch(value)):
        rule = "must be null or a host name (1-255 letters, digits, '.', '_' or '-')"
        raise InvalidInput(field, rule, value)


def _nova_boolean(value: Any) -> bool:
    return isinstance(value, bool) or (isinstance(value, str) and value in _NOVA_BOOLEAN_TEXT)


# Each action: its body's check at a microversion, and what it is called in a refusal.
_ACTIONS: dict[str, tuple[Callable[[Any, int], None], str]] = {
    "os-migrateLive": (_check_live_migration, "Live migration"),
    "migrate": (_check_cold_migration, "Cold migration"),
}
