"""Checks of cloud command options made before anything is sent: each names the option and rule."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sriovstack.domain.errors import InvalidInput

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def vlan_id(option: str, value: int) -> int:
    if not 1 <= value <= 4094:
        raise InvalidInput(option, "must be a VLAN ID from 1 to 4094", value)
    return value


def whole(option: str, value: int, minimum: int) -> int:
    if value < minimum:
        raise InvalidInput(option, f"must be {minimum} or more", value)
    return value


def cidr(option: str, text: str) -> IpNetwork:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            hint = f", e.g. {ipaddress.ip_network(text, strict=False)}"
        except ValueError:
            hint = ", e.g. 10.0.0.0/24"
        raise InvalidInput(option, f"must be a network in CIDR notation{hint}", text) from None


def ip_address(option: str, text: str) -> IpAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise InvalidInput(option, "must be an IPv4 or IPv6 address", text) from None


def key_values(
    option: str, text: str, allowed: Iterable[str], *, required: Iterable[str] = ()
) -> dict[str, str]:
    """``k=v,k=v`` with keys from ``allowed``, as OSC's multi-key options take them."""
    allowed = tuple(allowed)
    shape = ",".join(f"{k}=..." for k in allowed)
    found: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in allowed or not value.strip():
            raise InvalidInput(option, f"must be {shape}", text)
        if name in found:
            raise InvalidInput(option, f"gives {name} twice", text)
        found[name] = value.strip()
    missing = [k for k in required if k not in found]
    if missing:
        raise InvalidInput(option, f"needs {', '.join(missing)}=...", text)
    return found


def properties(option: str, values: Iterable[str]) -> dict[str, str]:
    """Repeated ``--property key=value`` options."""
    found: dict[str, str] = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(option, "must be key=value", text)
        found[name.strip()] = value
    return found


def flag_or_text(value: str) -> Any:
    """``true``/``false`` as booleans and whole numbers as numbers; the rest as it is."""
    word = value.strip().lower()
    if word in ("true", "false"):
        return word == "true"
    if word.isdigit():
        return int(word)
    return value


def binding_profile(option: str, values: Iterable[str]) -> dict[str, Any]:
    """``--binding-profile`` as ``key=value`` or a JSON object; Neutron wants real booleans."""
    profile: dict[str, Any] = {}
    for text in values:
        if text.lstrip().startswith("{"):
            try:
                loaded = json.loads(text)
            except ValueError as exc:
                raise InvalidInput(option, f"is not valid JSON: {exc}", text) from None
            if not isinstance(loaded, dict):
                raise InvalidInput(option, "must be a JSON object", text)
            profile.update(loaded)
            continue
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(option, "must be key=value or a JSON object", text)
        profile[name.strip()] = flag_or_text(value)
    trusted = profile.get("trusted")
    if trusted is not None and not isinstance(trusted, bool):
        raise InvalidInput(option, "trusted must be true or false", trusted)
    return profile


def port_range(option: str, text: str) -> tuple[int, int]:
    """``22`` or ``8000:8080``: TCP/UDP ports from 1 to 65535, the first not above the last."""
    low, _, high = text.partition(":")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        raise InvalidInput(option, "must be PORT or FIRST:LAST", text) from None
    if not (1 <= first <= 65535 and 1 <= last <= 65535):
        raise InvalidInput(option, "ports must be from 1 to 65535", text)
    if first > last:
        raise InvalidInput(option, "the first port must not be above the last", text)
    return first, last


def choice(option: str, value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise InvalidInput(option, f"must be one of {', '.join(allowed)}", value)
    return value


def without_none(body: Mapping[str, Any]) -> dict[str, Any]:
    """A request body without the options a person left out."""
    return {k: v for k, v in body.items() if v is not None}
