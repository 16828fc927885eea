"""Nova key pairs: users' SSH public keys by name, checked and fingerprinted as Nova does."""

from __future__ import annotations

import base64
import binascii
import hashlib
import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sriovstack.domain.errors import Conflict, InvalidInput, NotFound
from sriovstack.services.environment import Caller, Environment
from sriovstack.store.compute_tables import KeypairRow
from sriovstack.store.querying import Session, add_rows, delete_row, find_rows

# Microversions at which key pairs change (nova/api/openstack/api_version_request.py).
TYPE_SINCE = 2  # the ``type`` field; create answers 201 and delete 204
USER_ID_SINCE = 10  # admins name another user's key pairs with user_id
PAGING_SINCE = 35  # limit and marker on the list
KEY_REQUIRED_SINCE = 92  # public_key is required and names may hold '@' and '.'

MAX_NAME = 255
MAX_USER_ID = 32  # the keypairs.user_id column
MAX_PUBLIC_KEY = 4096  # the keypairs.public_key column
MAX_LIMIT = 1000
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_- ")
_NAME_CHARS_292 = _NAME_CHARS | {"@", "."}
NO_GENERATION = "public_key is required: sriovstack does not generate private keys"

# OpenSSH public key types: the wire strings their blob holds after the type (RFC 4253, 5656,
# 8709), and for ECDSA the curve the type names.
_KEY_FIELDS = {
    "ssh-rsa": 2,  # e, n
    "ssh-ed25519": 1,  # the 32-byte key
    "ecdsa-sha2-nistp256": 2,  # curve name, point
    "ecdsa-sha2-nistp384": 2,
    "ecdsa-sha2-nistp521": 2,
}
ED25519_KEY_BYTES = 32


def create_keypair(
    env: Environment, caller: Caller, body: Mapping[str, Any], *, minor: int
) -> dict[str, Any]:
    """Import a public key under a name unique to its user."""
    allowed = {"name", "public_key"}
    allowed |= {"type"} if minor >= TYPE_SINCE else set()
    allowed |= {"user_id"} if minor >= USER_ID_SINCE else set()
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(unknown[0], "is not a key pair attribute at this microversion")
    name = _name(body.get("name"), minor)
    key_type = _key_type(body.get("type", "ssh"))
    user_id = _user(caller, body.get("user_id"), "creating a key pair for another user")
    public_key = body.get("public_key")
    if public_key is None:
        # Nova generated a key pair when none was given (before 2.92); that needs a crypto
        # library sriovstack does not carry, so the key must come from the client.
        raise InvalidInput("public_key", NO_GENERATION)
    fingerprint = fingerprint_of(public_key)
    row = KeypairRow(
        user_id=user_id,
        name=name,
        type=key_type,
        public_key=public_key,
        fingerprint=fingerprint,
        created_at=env.now(),
    )
    with env.unit_of_work() as uow:
        if find_rows(uow.session, KeypairRow, where={"user_id": user_id, "name": name}):
            raise Conflict(f"Key pair '{name}' already exists.")
        add_rows(uow.session, [row])
        view = _created_view(row, minor)
        uow.commit()
    return view


def list_keypairs(
    env: Environment, caller: Caller, filters: Mapping[str, str], *, minor: int
) -> list[dict[str, Any]]:
    """The caller's key pairs (or a user's, for an admin at 2.10), oldest first."""
    user_id = caller.user_id
    if minor >= USER_ID_SINCE:
        user_id = _user(caller, filters.get("user_id"), "listing another user's key pairs")
    with env.unit_of_work() as uow:
        rows = find_rows(uow.session, KeypairRow, where={"user_id": user_id}, order_by=("id",))
        if minor >= PAGING_SINCE:
            rows = _page(rows, filters)
        return [{"keypair": _listed_view(row, minor)} for row in rows]


def show_keypair(
    env: Environment, caller: Caller, name: str, *, minor: int, user_id: str | None = None
) -> dict[str, Any]:
    owner = _owner(caller, user_id, minor)
    with env.unit_of_work() as uow:
        row = find_keypair(uow.session, owner, name)
        view = _created_view(row, minor)
        view.update(
            {
                "id": row.id,
                "created_at": _stamp(row.created_at),
                "updated_at": None,
                "deleted": False,
                "deleted_at": None,
            }
        )
        return view


def delete_keypair(
    env: Environment, caller: Caller, name: str, *, minor: int, user_id: str | None = None
) -> None:
    owner = _owner(caller, user_id, minor)
    with env.unit_of_work() as uow:
        delete_row(uow.session, find_keypair(uow.session, owner, name))
        uow.commit()


def find_keypair(session: Session, user_id: str, name: str) -> KeypairRow:
    """A user's key pair by name; another user's is not found, as in Nova."""
    rows = find_rows(session, KeypairRow, where={"user_id": user_id, "name": name})
    if not rows:
        raise NotFound("keypair", name)
    return rows[0]


def fingerprint_of(public_key: Any) -> str:
    """The legacy MD5 fingerprint Nova shows (``aa:bb:...``) of a checked OpenSSH public key."""
    blob = _key_blob(public_key)
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _key_blob(public_key: Any) -> bytes:
    """The decoded key of ``<type> <base64> [comment]``, after checking it holds that type."""
    if not isinstance(public_key, str) or not public_key.strip():
        raise InvalidInput("public_key", "must be an OpenSSH public key", public_key)
    if len(public_key) > MAX_PUBLIC_KEY:
        raise InvalidInput("public_key", f"must be at most {MAX_PUBLIC_KEY} characters")
    parts = public_key.split()
    kind = parts[0]
    if kind not in _KEY_FIELDS:
        raise InvalidInput(
            "public_key",
            f"key type {kind!r} is not supported (use {', '.join(_KEY_FIELDS)})",
        )
    try:
        blob = base64.b64decode(parts[1] if len(parts) > 1 else "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("public_key", "the key after the type is not valid base64") from None
    fields = _wire_strings(blob)
    if not fields or fields[0] != kind.encode():
        raise InvalidInput("public_key", f"the key data is not a {kind} key")
    if len(fields) != 1 + _KEY_FIELDS[kind] or not all(fields[1:]):
        raise InvalidInput("public_key", f"the {kind} key data is incomplete or has extra bytes")
    if kind == "ssh-ed25519" and len(fields[1]) != ED25519_KEY_BYTES:
        raise InvalidInput("public_key", f"an ssh-ed25519 key is {ED25519_KEY_BYTES} bytes")
    if kind.startswith("ecdsa-") and fields[1] != kind.rsplit("-", 1)[1].encode():
        raise InvalidInput("public_key", f"the curve in the key data does not match {kind}")
    return blob


def _wire_strings(blob: bytes) -> list[bytes] | None:
    """The SSH wire strings (4-byte big-endian length, then the bytes) of a key blob, or None."""
    fields = []
    at = 0
    while at < len(blob):
        if at + 4 > len(blob):
            return None
        length = int.from_bytes(blob[at : at + 4], "big")
        at += 4
        if at + length > len(blob):
            return None
        fields.append(blob[at : at + length])
        at += length
    return fields


def _name(value: Any, minor: int) -> str:
    allowed = _NAME_CHARS_292 if minor >= KEY_REQUIRED_SINCE else _NAME_CHARS
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME:
        raise InvalidInput("name", f"must be a string of 1 to {MAX_NAME} characters", value)
    if not set(value) <= allowed:
        extra = " '@', '.'," if minor >= KEY_REQUIRED_SINCE else ""
        raise InvalidInput(
            "name", f"may hold only letters, digits,{extra} '_', '-' and spaces", value
        )
    return value


def _key_type(value: Any) -> str:
    if value == "x509":
        # X.509 key pairs need a certificate parser, which sriovstack does not carry.
        raise InvalidInput("type", "x509 key pairs are not supported; use ssh", value)
    if value != "ssh":
        raise InvalidInput("type", "must be ssh", value)
    return "ssh"


def _user(caller: Caller, user_id: Any, action: str) -> str:
    if user_id is None or user_id == caller.user_id:
        return caller.user_id
    if not isinstance(user_id, str) or not 1 <= len(user_id) <= MAX_USER_ID:
        raise InvalidInput("user_id", f"must be a user ID of at most {MAX_USER_ID} characters")
    caller.require_admin(action)
    return user_id


def _owner(caller: Caller, user_id: str | None, minor: int) -> str:
    if minor < USER_ID_SINCE:
        return caller.user_id
    return _user(caller, user_id, "using another user's key pairs")


def _created_view(row: KeypairRow, minor: int) -> dict[str, Any]:
    return {**_listed_view(row, minor), "user_id": row.user_id}


def _listed_view(row: KeypairRow, minor: int) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": row.name,
        "public_key": row.public_key,
        "fingerprint": row.fingerprint,
    }
    if minor >= TYPE_SINCE:
        view["type"] = row.type
    return view


def _page(rows: list[KeypairRow], filters: Mapping[str, str]) -> list[KeypairRow]:
    limit = MAX_LIMIT
    if "limit" in filters:
        if not _digits(filters["limit"]):
            raise InvalidInput("limit", "must be a whole number", filters["limit"])
        limit = min(int(filters["limit"]), MAX_LIMIT)
    marker = filters.get("marker")
    if marker is not None:
        names = [row.name for row in rows]
        if marker not in names:
            raise InvalidInput("marker", "is not the name of a listed key pair", marker)
        rows = rows[names.index(marker) + 1 :]
    return rows[:limit]


def _stamp(moment: datetime) -> str:
    # Nova shows key pair times without a zone, with microseconds.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _digits(text: str) -> bool:
    # str.isdigit alone takes other scripts' digits, which int() may refuse.
    return text.isascii() and text.isdigit()
