"""Nova flavors: sizes, public or private, and extra specs checked against the PCI aliases."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sriovstack.domain.alias import parse_flavor_extra_specs
from sriovstack.domain.errors import Conflict, InvalidInput, NotFound
from sriovstack.services.environment import Caller, Environment
from sriovstack.store.compute_tables import FlavorRow
from sriovstack.store.querying import Session, add_rows, delete_row, find_rows, get_row

# Microversions at which a flavor's shape changes (nova/api/openstack/api_version_request.py).
DESCRIPTION_SINCE = 55
EXTRA_SPECS_SINCE = 61
INT_SWAP_SINCE = 75

EPHEMERAL = "OS-FLV-EXT-DATA:ephemeral"
IS_PUBLIC = "os-flavor-access:is_public"
DISABLED = "OS-FLV-DISABLED:disabled"
CREATE_FIELDS = frozenset(
    {"name", "id", "ram", "vcpus", "disk", EPHEMERAL, "swap", "rxtx_factor", IS_PUBLIC}
)
MAX_INT = 0x7FFFFFFF  # Nova's db.MAX_INT: the columns are 32-bit
MAX_ID = 64  # the flavors.id column; Nova allows 255
MAX_TEXT = 255
MAX_LIMIT = 1000  # Nova's osapi_max_limit
_ID = re.compile(r"(?! )[a-zA-Z0-9. _-]+(?<! )")
_SPEC_KEY = re.compile(r"[a-zA-Z0-9-_:. ]{1,255}")
_TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE = frozenset({"0", "f", "false", "off", "n", "no"})
_NONE = frozenset({"none", "null"})

# DevStack's m1.* flavors, as Nova's old defaults: (id, name, ram MiB, vcpus, disk GiB).
DEFAULT_FLAVORS = (
    ("1", "m1.tiny", 512, 1, 1),
    ("2", "m1.small", 2048, 1, 20),
    ("3", "m1.medium", 4096, 2, 40),
    ("4", "m1.large", 8192, 4, 80),
    ("5", "m1.xlarge", 16384, 8, 160),
)


def create_flavor(
    env: Environment, caller: Caller, body: Mapping[str, Any], *, minor: int, base: str
) -> dict[str, Any]:
    """A flavor; the id is generated when absent, null or ``auto``. Admins only."""
    caller.require_admin("creating a flavor")
    allowed = CREATE_FIELDS | ({"description"} if minor >= DESCRIPTION_SINCE else set())
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(unknown[0], "is not a flavor attribute at this microversion")
    if "name" not in body:
        raise InvalidInput("name", "is required")
    for required in ("ram", "vcpus", "disk"):
        if required not in body:
            raise InvalidInput(required, "is required")
    flavor_id = _flavor_id(body.get("id")) or env.new_id()
    row = FlavorRow(
        id=flavor_id,
        name=_name(body["name"]),
        ram=_whole(body, "ram", minimum=1),
        vcpus=_whole(body, "vcpus", minimum=1),
        disk=_whole(body, "disk", minimum=0),
        ephemeral=_whole(body, EPHEMERAL, minimum=0),
        swap=_whole(body, "swap", minimum=0),
        rxtx_factor=_rxtx_factor(body.get("rxtx_factor", 1.0)),
        is_public=_boolean(IS_PUBLIC, body.get(IS_PUBLIC, True)),
        disabled=False,
        description=_description(body.get("description")),
        extra_specs={},
    )
    with env.unit_of_work() as uow:
        if get_row(uow.session, FlavorRow, flavor_id) is not None:
            raise Conflict(f"Flavor with ID {flavor_id} already exists.")
        if find_rows(uow.session, FlavorRow, where={"name": row.name}):
            raise Conflict(f"Flavor with name {row.name} already exists.")
        add_rows(uow.session, [row])
        view = flavor_view(row, minor=minor, base=base)
        uow.commit()
    return view


def list_flavors(
    env: Environment,
    caller: Caller,
    filters: Mapping[str, str],
    *,
    detail: bool,
    minor: int,
    base: str,
) -> list[dict[str, Any]]:
    """Flavors sorted by id, with Nova's filters (is_public, minRam, minDisk) and paging."""
    where: dict[str, object] = {"disabled": False}
    public = _is_public_filter(caller, filters.get("is_public"))
    if public is not None:
        where["is_public"] = public
    min_ram = _filter_int(filters, "minRam")
    min_disk = _filter_int(filters, "minDisk")
    with env.unit_of_work() as uow:
        rows = find_rows(uow.session, FlavorRow, where=where)
        rows = [r for r in rows if r.ram >= min_ram and r.disk >= min_disk]
        rows.sort(key=lambda r: r.id)  # in Python: SQL collations differ between backends
        rows = _page(rows, filters)
        return [flavor_view(r, minor=minor, base=base, detail=detail) for r in rows]


def show_flavor(
    env: Environment, caller: Caller, flavor_id: str, *, minor: int, base: str
) -> dict[str, Any]:
    with env.unit_of_work() as uow:
        return flavor_view(visible_flavor(uow.session, caller, flavor_id), minor=minor, base=base)


def update_flavor(
    env: Environment,
    caller: Caller,
    flavor_id: str,
    body: Mapping[str, Any],
    *,
    minor: int,
    base: str,
) -> dict[str, Any]:
    """Change a flavor's description (2.55), the only thing Nova lets change."""
    caller.require_admin("changing a flavor")
    unknown = sorted(set(body) - {"description"})
    if unknown or "description" not in body:
        field = unknown[0] if unknown else "description"
        raise InvalidInput(field, "only the description of a flavor can be changed")
    with env.unit_of_work() as uow:
        row = visible_flavor(uow.session, caller, flavor_id)
        row.description = _description(body["description"])
        view = flavor_view(row, minor=minor, base=base)
        uow.commit()
    return view


def delete_flavor(env: Environment, caller: Caller, flavor_id: str) -> None:
    """Delete a flavor; servers keep the copy of it they were booted with."""
    caller.require_admin("deleting a flavor")
    with env.unit_of_work() as uow:
        delete_row(uow.session, visible_flavor(uow.session, caller, flavor_id))
        uow.commit()


def list_extra_specs(env: Environment, caller: Caller, flavor_id: str) -> dict[str, str]:
    with env.unit_of_work() as uow:
        return dict(visible_flavor(uow.session, caller, flavor_id).extra_specs)


def set_extra_specs(env: Environment, caller: Caller, flavor_id: str, specs: Any) -> dict[str, str]:
    """Add or replace extra specs; the flavor's PCI requests must still parse afterwards."""
    caller.require_admin("setting flavor extra specs")
    if not isinstance(specs, Mapping) or not specs:
        raise InvalidInput("extra_specs", "must be an object of at least one key and value")
    checked = {_spec_key(key): _spec_value(key, value) for key, value in specs.items()}
    with env.unit_of_work() as uow:
        row = visible_flavor(uow.session, caller, flavor_id)
        merged = {**row.extra_specs, **checked}
        check_pci_specs(env, merged)
        row.extra_specs = merged  # a new dict: the JSON column sees assignments only
        uow.commit()
    return checked


def show_extra_spec(env: Environment, caller: Caller, flavor_id: str, key: str) -> dict[str, str]:
    with env.unit_of_work() as uow:
        specs = visible_flavor(uow.session, caller, flavor_id).extra_specs
        if key not in specs:
            raise _no_spec(flavor_id, key)
        return {key: specs[key]}


def update_extra_spec(
    env: Environment, caller: Caller, flavor_id: str, key: str, body: Any
) -> dict[str, str]:
    """``PUT .../os-extra_specs/<key>`` with ``{"<key>": value}``: one key, the URL's."""
    caller.require_admin("setting flavor extra specs")
    if not isinstance(body, Mapping) or len(body) != 1:
        raise InvalidInput(key, "the body must hold exactly one extra spec, the URL's key")
    if key not in body:
        raise InvalidInput(key, "the body's key and the URL's key differ")
    return set_extra_specs(env, caller, flavor_id, body)


def delete_extra_spec(env: Environment, caller: Caller, flavor_id: str, key: str) -> None:
    caller.require_admin("deleting a flavor extra spec")
    with env.unit_of_work() as uow:
        row = visible_flavor(uow.session, caller, flavor_id)
        if key not in row.extra_specs:
            raise _no_spec(flavor_id, key)
        row.extra_specs = {k: v for k, v in row.extra_specs.items() if k != key}
        uow.commit()


def ensure_default_flavors(env: Environment) -> list[str]:
    """DevStack's m1.tiny to m1.xlarge when there are no flavors at all; the names created."""
    with env.unit_of_work() as uow:
        if find_rows(uow.session, FlavorRow, limit=1):
            return []
        rows = [
            FlavorRow(
                id=flavor_id,
                name=name,
                ram=ram,
                vcpus=vcpus,
                disk=disk,
                ephemeral=0,
                swap=0,
                rxtx_factor=1.0,
                is_public=True,
                disabled=False,
                description=None,
                extra_specs={},
            )
            for flavor_id, name, ram, vcpus, disk in DEFAULT_FLAVORS
        ]
        add_rows(uow.session, rows)
        uow.commit()
    return [name for _, name, *_ in DEFAULT_FLAVORS]


def check_pci_specs(env: Environment, extra_specs: Mapping[str, str]) -> None:
    """Refuse extra specs whose PCI requests name unknown aliases or a bad NUMA policy."""
    parse_flavor_extra_specs(extra_specs, tuple(env.settings.aliases.values()))


def visible_flavor(session: Session, caller: Caller, flavor_id: str) -> FlavorRow:
    """The flavor by id if the caller may use it (public, or any for an admin); else NotFound.

    Nova has per-project access to private flavors; sriovstack keeps private ones to admins.
    """
    row = get_row(session, FlavorRow, flavor_id)
    if row is None or not (row.is_public or caller.is_admin):
        raise NotFound("flavor", flavor_id)
    return row


def flavor_view(row: FlavorRow, *, minor: int, base: str, detail: bool = True) -> dict[str, Any]:
    """The flavor as Nova shows it at microversion 2.``minor``."""
    view: dict[str, Any] = {"id": row.id, "name": row.name, "links": _links(row.id, base)}
    if minor >= DESCRIPTION_SINCE:
        view["description"] = row.description
    if not detail:
        return view
    view.update(
        {
            "ram": row.ram,
            "vcpus": row.vcpus,
            "disk": row.disk,
            EPHEMERAL: row.ephemeral,
            # Nova showed no swap as "" until 2.75 made it always a number.
            "swap": row.swap if row.swap or minor >= INT_SWAP_SINCE else "",
            "rxtx_factor": row.rxtx_factor,
            IS_PUBLIC: row.is_public,
            DISABLED: row.disabled,
        }
    )
    if minor >= EXTRA_SPECS_SINCE:
        view["extra_specs"] = dict(row.extra_specs)
    return view


def _links(flavor_id: str, base: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{base}/compute/v2.1/flavors/{flavor_id}"},
        {"rel": "bookmark", "href": f"{base}/compute/flavors/{flavor_id}"},
    ]


def _flavor_id(value: Any) -> str | None:
    if value is None or value == "auto":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _ID.fullmatch(value) or len(value) > MAX_ID:
        raise InvalidInput(
            "id",
            f"must be up to {MAX_ID} letters, digits, '.', '_', '-' or inner spaces, or 'auto'",
            value,
        )
    return value


def _name(value: Any) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_TEXT
        or value != value.strip()
        or not value.isprintable()
    ):
        raise InvalidInput(
            "name",
            f"must be 1 to {MAX_TEXT} printable characters without leading or trailing spaces",
            value,
        )
    return value


def _whole(body: Mapping[str, Any], field: str, *, minimum: int) -> int:
    # Nova's schema takes a number or a string of digits.
    value = body.get(field, 0)
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _digits(value):
        number = int(value)
    if number is None or not minimum <= number <= MAX_INT:
        raise InvalidInput(field, f"must be a whole number from {minimum} to {MAX_INT}", value)
    return number


def _rxtx_factor(value: Any) -> float:
    try:
        factor = float(value)
    except (TypeError, ValueError):
        factor = 0.0
    if isinstance(value, bool) or not 0 < factor <= 3.40282e38:
        raise InvalidInput("rxtx_factor", "must be a number greater than 0", value)
    return factor


def _boolean(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise InvalidInput(field, "must be true or false", value)


def _description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
        raise InvalidInput("description", f"must be up to {MAX_TEXT} printable characters", value)
    return value


def _spec_key(key: Any) -> str:
    if not isinstance(key, str) or not _SPEC_KEY.fullmatch(key):
        raise InvalidInput(
            "extra_specs", "keys are 1 to 255 letters, digits, '-', '_', ':', '.' or spaces", key
        )
    return key


def _spec_value(key: str, value: Any) -> str:
    # Nova keeps numbers and booleans as their strings; anything else is refused.
    if not isinstance(value, str | int | float):
        raise InvalidInput(key, "must be a string, a number or a boolean", value)
    text = str(value)
    if len(text) > MAX_TEXT:
        raise InvalidInput(key, f"must be at most {MAX_TEXT} characters", value)
    return text


def _no_spec(flavor_id: str, key: str) -> NotFound:
    return NotFound("extra spec", key, f"flavor {flavor_id} has no extra spec with this key")


def _is_public_filter(caller: Caller, value: str | None) -> bool | None:
    """Nova's rule: members see public flavors; admins public by default, or as asked."""
    if not caller.is_admin or value is None:
        return True
    if value.strip().lower() in _NONE:
        return None
    word = value.strip().lower()
    if word not in _TRUE | _FALSE:
        raise InvalidInput("is_public", "must be true, false or none", value)
    return word in _TRUE


def _filter_int(filters: Mapping[str, str], name: str) -> int:
    value = filters.get(name)
    if value is None:
        return 0
    if not _digits(value):
        raise InvalidInput(name, "must be a whole number", value)
    return int(value)


def _page(rows: list[FlavorRow], filters: Mapping[str, str]) -> list[FlavorRow]:
    limit = MAX_LIMIT
    if "limit" in filters:
        if not _digits(filters["limit"]):
            raise InvalidInput("limit", "must be a whole number", filters["limit"])
        limit = min(int(filters["limit"]), MAX_LIMIT)
    marker = filters.get("marker")
    if marker is not None:
        ids = [row.id for row in rows]
        if marker not in ids:
            raise InvalidInput("marker", "is not the id of a listed flavor", marker)
        rows = rows[ids.index(marker) + 1 :]
    return rows[:limit]


def _digits(text: str) -> bool:
    # str.isdigit alone takes other scripts' digits, which int() may refuse.
    return text.isascii() and text.isdigit()
