"""Glance v2 images as metadata only: sriovstack stores no image data, so images are active
from the start and a guest's disk comes from wherever its hypervisor finds it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sriovstack.domain.alias import parse_numa_policy
from sriovstack.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from sriovstack.services.environment import Caller, Environment
from sriovstack.store.compute_tables import ImageRow
from sriovstack.store.identity_tables import ProjectRow
from sriovstack.store.querying import Session, add_rows, delete_row, find_rows, get_row

VISIBILITIES = ("public", "private", "shared", "community")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
# Glance's answers to attributes a client may not set (403, as Glance gives).
READ_ONLY = frozenset(
    {
        "status",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "created_at",
        "updated_at",
        "self",
        "file",
        "schema",
        "direct_url",
        "locations",
    }
)
RESERVED = frozenset({"deleted", "deleted_at", "location"})
# Base attributes without a column of their own live in ``properties`` under these keys, which
# Glance never lets be extra properties.
TAGS, HIDDEN = "tags", "os_hidden"
NUMA_PROPERTY = "hw_pci_numa_affinity_policy"
DEFAULT_LIMIT, MAX_LIMIT = 25, 1000  # Glance's limit_param_default and api_limit_max
MAX_TEXT, MAX_OWNER = 255, 32
# Query parameters that are not property filters (paging and sorting are handled, or ignored).
_NOT_FILTERS = frozenset(
    {
        "limit",
        "marker",
        "sort",
        "sort_key",
        "sort_dir",
        "member_status",
        "size_min",
        "size_max",
        "created_at",
        "updated_at",
    }
)
_COLUMN_FILTERS = frozenset({"name", "id", "status", "owner", "container_format", "disk_format"})

# The talk's image, named as DevStack names it from IMAGE_URLS, and DevStack's default CirrOS.
DEFAULT_IMAGES = (
    ("Fedora-Cloud-Base-23-20151030.x86_64", "fedora"),
    ("cirros-0.6.2-x86_64-disk", "cirros"),
)


def create_image(env: Environment, caller: Caller, body: Any) -> dict[str, Any]:
    """An image's record, active at once; public ones need the admin role, as in Glance."""
    caller.require_member("creating an image")
    if not isinstance(body, Mapping):
        raise InvalidInput("body", "must be a JSON object of image attributes")
    for key in body:
        if key in READ_ONLY:
            raise Forbidden(f"Attribute '{key}' is read-only.")
        if key in RESERVED:
            raise Forbidden(f"Attribute '{key}' is reserved.")
    visibility = _choice(body, "visibility", VISIBILITIES, "shared")
    if visibility == "public":
        caller.require_admin("publicizing an image")
    owner = _owner(caller, body.get("owner"))
    now = env.now()
    row = ImageRow(
        id=_image_id(body.get("id")) or env.new_id(),
        name=_text(body, "name"),
        owner=owner,
        visibility=visibility,
        status="active",
        protected=_flag(body, "protected"),
        container_format=_choice(body, "container_format", CONTAINER_FORMATS, "bare"),
        disk_format=_choice(body, "disk_format", DISK_FORMATS, "qcow2"),
        min_disk=_count(body, "min_disk"),
        min_ram=_count(body, "min_ram"),
        size=None,
        checksum=None,
        properties={TAGS: _tags(body.get(TAGS, [])), HIDDEN: _flag(body, HIDDEN), **_extra(body)},
        created_at=now,
        updated_at=now,
    )
    with env.unit_of_work() as uow:
        if get_row(uow.session, ImageRow, row.id) is not None:
            raise Conflict(f"An image with identifier {row.id} already exists")
        add_rows(uow.session, [row])
        view = image_view(row)
        uow.commit()
    return view


def list_images(
    env: Environment, caller: Caller, filters: Mapping[str, str]
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the images the caller sees, newest first, and the marker of the next page."""
    limit = _limit(filters.get("limit"))
    wanted = filters.get("visibility")
    if wanted is not None and wanted not in (*VISIBILITIES, "all"):
        raise InvalidInput("visibility", f"must be one of {', '.join(VISIBILITIES)} or all", wanted)
    with env.unit_of_work() as uow:
        rows = [
            row
            for row in find_rows(uow.session, ImageRow, where=_column_filters(filters))
            if _listed(caller, row, filters) and _matches(row, filters)
        ]
        rows.sort(key=lambda row: (row.created_at, row.id), reverse=True)
        page = _page(rows, filters.get("marker"), limit)
        following = page[-1].id if page and len(page) == limit else None
        return [image_view(row) for row in page], following


def show_image(env: Environment, caller: Caller, image_id: str) -> dict[str, Any]:
    with env.unit_of_work() as uow:
        return image_view(visible_image(uow.session, caller, image_id))


def delete_image(env: Environment, caller: Caller, image_id: str) -> None:
    """Delete an image of the caller's project; protected images stay."""
    with env.unit_of_work() as uow:
        row = visible_image(uow.session, caller, image_id)
        if not caller.is_admin and row.owner != caller.project_id:
            raise Forbidden("You are not permitted to delete this image.")
        if row.protected:
            raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
        delete_row(uow.session, row)
        uow.commit()


def ensure_default_images(env: Environment) -> list[str]:
    """The talk's Fedora image and DevStack's CirrOS, public, unless present; the names made."""
    created = []
    now = env.now()
    with env.unit_of_work() as uow:
        admin = find_rows(uow.session, ProjectRow, where={"name": "admin"})
        owner = admin[0].id if admin else None
        for name, distro in DEFAULT_IMAGES:
            if find_rows(uow.session, ImageRow, where={"name": name}):
                continue
            row = ImageRow(
                id=env.new_id(),
                name=name,
                owner=owner,
                visibility="public",
                status="active",
                protected=False,
                container_format="bare",
                disk_format="qcow2",
                min_disk=0,
                min_ram=0,
                size=None,
                checksum=None,
                properties={TAGS: [], HIDDEN: False, "os_distro": distro},
                created_at=now,
                updated_at=now,
            )
            add_rows(uow.session, [row])
            created.append(name)
        uow.commit()
    return created


def visible_image(session: Session, caller: Caller, image_id: str) -> ImageRow:
    """The image if the caller may use it (public, community, own, or any for an admin)."""
    row = get_row(session, ImageRow, image_id)
    if row is None or not _visible(caller, row):
        raise NotFound("image", image_id, "No image found with this ID")
    return row


def image_view(row: ImageRow) -> dict[str, Any]:
    """The image as Glance v2 shows it: extra properties sit beside the base attributes."""
    extra = {k: v for k, v in row.properties.items() if k not in (TAGS, HIDDEN)}
    return {
        **extra,
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "visibility": row.visibility,
        "protected": row.protected,
        "os_hidden": bool(row.properties.get(HIDDEN, False)),
        "container_format": row.container_format,
        "disk_format": row.disk_format,
        "min_disk": row.min_disk,
        "min_ram": row.min_ram,
        "size": row.size,
        "virtual_size": None,
        "checksum": row.checksum,
        "os_hash_algo": None,
        "os_hash_value": None,
        "owner": row.owner,
        "tags": list(row.properties.get(TAGS, [])),
        "created_at": _stamp(row.created_at),
        "updated_at": _stamp(row.updated_at),
        "self": f"/v2/images/{row.id}",
        "file": f"/v2/images/{row.id}/file",
        "schema": "/v2/schemas/image",
    }


def _visible(caller: Caller, row: ImageRow) -> bool:
    return (
        caller.is_admin
        or row.owner == caller.project_id
        or row.visibility in ("public", "community")
    )


def _listed(caller: Caller, row: ImageRow, filters: Mapping[str, str]) -> bool:
    """Glance's listing: public and own images by default; others' community ones on request."""
    wanted = filters.get("visibility")
    if wanted not in (None, "all") and row.visibility != wanted:
        return False
    if wanted in ("community", "all"):
        return _visible(caller, row)
    return caller.is_admin or row.owner == caller.project_id or row.visibility == "public"


def _column_filters(filters: Mapping[str, str]) -> dict[str, object]:
    # Glance's "in:" operator lists values; quotes let a value hold a comma.
    where: dict[str, object] = {}
    for key in _COLUMN_FILTERS & set(filters):
        value = filters[key]
        where[key] = _in_values(value[3:]) if value.startswith("in:") else value
    return where


def _matches(row: ImageRow, filters: Mapping[str, str]) -> bool:
    """The filters on attributes kept in ``properties`` and on extra properties (exact)."""
    for key, value in filters.items():
        if key in _NOT_FILTERS or key in _COLUMN_FILTERS or key == "visibility":
            continue
        if key == "protected":
            if row.protected != _query_flag(key, value):
                return False
        elif key == HIDDEN:
            if bool(row.properties.get(HIDDEN, False)) != _query_flag(key, value):
                return False
        elif key == "tag":
            if value not in row.properties.get(TAGS, []):
                return False
        elif row.properties.get(key) != value:
            return False
    # Hidden images are listed only when asked for, as Glance does.
    return HIDDEN in filters or not row.properties.get(HIDDEN, False)


def _page(rows: list[ImageRow], marker: str | None, limit: int) -> list[ImageRow]:
    if marker is not None:
        ids = [row.id for row in rows]
        if marker not in ids:
            raise InvalidInput("marker", f"Invalid marker. Image {marker} could not be found.")
        rows = rows[ids.index(marker) + 1 :]
    return rows[:limit]


def _in_values(text: str) -> list[str]:
    values, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            values.append(current)
            current = ""
        else:
            current += char
    values.append(current)
    return [value.strip() for value in values]


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not _digits(value):
        raise InvalidInput("limit", "must be a whole number", value)
    return min(int(value), MAX_LIMIT)


def _query_flag(key: str, value: str) -> bool:
    word = value.strip().lower()
    if word not in ("true", "false"):
        raise InvalidInput(key, "must be true or false", value)
    return word == "true"


def _image_id(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidInput("id", "must be a UUID", value) from None


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InvalidInput(key, f"must be a string of at most {MAX_TEXT} characters", value)
    return value


def _choice(body: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(key)
    if value is None:
        return default
    if value not in allowed:
        raise InvalidInput(key, f"must be one of {', '.join(allowed)}", value)
    return str(value)


def _flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise InvalidInput(key, "must be true or false", value)
    return value


def _count(body: Mapping[str, Any], key: str) -> int:
    value = body.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(key, "must be a whole number, 0 or more", value)
    return value


def _tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(
        isinstance(tag, str) and 0 < len(tag) <= MAX_TEXT for tag in value
    ):
        raise InvalidInput(TAGS, f"must be a list of strings of 1 to {MAX_TEXT} characters", value)
    return list(dict.fromkeys(value))


def _extra(body: Mapping[str, Any]) -> dict[str, str]:
    """Extra properties: strings, as Glance's schema has them; SR-IOV ones are checked now,
    since Nova would refuse a bad value only when a server boots from the image."""
    base = {"id", "name", "owner", "visibility", "protected", "container_format", "disk_format"}
    base |= {"min_disk", "min_ram", TAGS, HIDDEN}
    extra = {}
    for key, value in body.items():
        if key in base:
            continue
        if not isinstance(value, str) or len(key) > MAX_TEXT:
            raise InvalidInput(key, "an extra property's value must be a string", value)
        if key == NUMA_PROPERTY:
            parse_numa_policy(value, where=NUMA_PROPERTY)
        extra[key] = value
    return extra


def _owner(caller: Caller, owner: Any) -> str:
    if owner is None or owner == caller.project_id:
        return caller.project_id
    caller.require_admin("creating an image for another project")
    if not isinstance(owner, str) or not 0 < len(owner) <= MAX_OWNER:
        raise InvalidInput("owner", f"must be a project ID of at most {MAX_OWNER} characters")
    return owner


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _digits(text: str) -> bool:
    # str.isdigit alone takes other scripts' digits, which int() may refuse.
    return text.isascii() and text.isdigit()
