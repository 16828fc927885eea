"""Neutron attribute values as clients send them (booleans, names, numbers), checked once."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sriovstack.domain.errors import InvalidInput

MAX_NAME = 255  # Neutron's name and description columns


def refuse_unknown(body: Mapping[str, Any], known: Collection[str]) -> None:
    """Refuse the first attribute that is not in ``known``, as Neutron refuses unrecognised ones."""
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise InvalidInput(unknown[0], "is not a recognised attribute")


def refuse_unchangeable(body: Mapping[str, Any], updatable: Collection[str], kind: str) -> None:
    """Refuse the first attribute an update may not set, saying that it is fixed at creation."""
    fixed = sorted(set(body) - set(updatable))
    if fixed:
        raise InvalidInput(fixed[0], f"cannot be changed after the {kind} is created")


def parse_flag(field: str, value: Any) -> bool:
    """A boolean; the strings "true"/"false" (any case) too, as Neutron's convert_to_boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidInput(field, "must be true or false", value)


def parse_text(field: str, value: Any, *, max_length: int = MAX_NAME) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string", value)
    if len(value) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters", value)
    return value


def parse_whole(field: str, value: Any, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``; numeric strings too (neutronclient sends them)."""
    if isinstance(value, bool):
        raise InvalidInput(field, f"must be a whole number from {low} to {high}", value)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(field, f"must be a whole number from {low} to {high}", value) from None
    if isinstance(value, float) and number != value:
        raise InvalidInput(field, f"must be a whole number from {low} to {high}", value)
    if not low <= number <= high:
        raise InvalidInput(field, f"must be a whole number from {low} to {high}", value)
    return number


def require_empty(field: str, value: Any, reason: str) -> None:
    """Accept only an empty or null value for an attribute sriovstack shows but does not do."""
    if value not in (None, [], {}, ""):
        raise InvalidInput(field, reason, value)


def stamp(moment: datetime) -> str:
    """A time as Neutron's created_at and updated_at show it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
