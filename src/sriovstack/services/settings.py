"""The control plane's settings: a frozen value loaded once, environment over file over default."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sriovstack.domain.alias import Alias, parse_aliases
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.mappings import NetworkVlanRanges, parse_network_vlan_ranges

ENV_PREFIX = "SRIOVSTACK_"
DEFAULT_VLAN_RANGES = "physnet1:3001:4000"  # the talk's TENANT_VLAN_RANGE on its PHYSICAL_NETWORK


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the API server and its services are configured with."""

    database_url: str = "sqlite:///sriovstack.db"
    token_ttl: timedelta = timedelta(hours=1)  # Keystone's default token expiration
    # Neutron's [ml2_type_vlan] network_vlan_ranges: the physnets VLAN networks may use.
    network_vlan_ranges: NetworkVlanRanges = field(
        default_factory=lambda: parse_network_vlan_ranges(DEFAULT_VLAN_RANGES)
    )
    # Neutron's [ml2_type_flat] flat_networks; "*" allows any physnet.
    flat_networks: tuple[str, ...] = ("*",)
    # Nova's service_down_time: an agent silent for longer is dead and its host is skipped.
    agent_down_time: timedelta = timedelta(seconds=60)
    scheduler_strategy: str = "spread"
    pci_weight_multiplier: float = 1.0
    aliases: Mapping[str, Alias] = field(default_factory=dict)  # Nova's [pci] alias
    region: str = "RegionOne"
    mac_prefix: str = "fa:16:3e"  # Neutron's base_mac
    # How many hosts the SQL pre-filter hands to the filters and weighers for one boot.
    scheduler_candidates: int = 10
    scheduler_attempts: int = 5  # candidate pages that fail the filters, and rounds lost to races
    # The host whose DHCP servers serve every network (DevStack's q-dhcp host); None: no DHCP
    # ports are made, as in Neutron without a DHCP agent.
    dhcp_host: str | None = None
    # How long GET /servers/{id} of a server in BUILD waits for it to change before answering:
    # OSC's `server create --wait` polls every 5 s and boots finish in about a second, so an
    # answer held this long saves a whole poll (api/servers.py).
    build_wait: timedelta = timedelta(seconds=2)

    def physnet_known(self, physnet: str) -> bool:
        return physnet in self.network_vlan_ranges.physnets or physnet in self.flat_physnets()

    def flat_physnets(self) -> tuple[str, ...]:
        return tuple(p for p in self.flat_networks if p != "*")


def load_settings(environ: Mapping[str, str] | None = None, file: Path | None = None) -> Settings:
    """Settings from ``file`` (TOML ``[api]``), overridden by ``SRIOVSTACK_*`` variables."""
    values: dict[str, Any] = {}
    if file is not None:
        try:
            data = tomllib.loads(file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput(str(file), f"cannot read settings: {exc}") from None
        values.update(data.get("api", {}))
    env = os.environ if environ is None else environ
    for name in _FIELDS:
        key = ENV_PREFIX + name.upper()
        if key in env:
            values[name] = env[key]
    return _build(values, where=str(file) if file else "environment")


_FIELDS = (
    "database_url",
    "token_ttl",
    "network_vlan_ranges",
    "flat_networks",
    "agent_down_time",
    "scheduler_strategy",
    "pci_weight_multiplier",
    "aliases",
    "region",
    "scheduler_candidates",
    "dhcp_host",
    "build_wait",
)
MAX_BUILD_WAIT = 60.0  # seconds: as long as an agent's long-poll may be held


def _build(values: Mapping[str, Any], *, where: str) -> Settings:
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise InvalidInput(f"{where} [api]", f"unknown settings: {', '.join(unknown)}")
    settings = Settings()
    changes: dict[str, Any] = {}
    for name, value in values.items():
        changes[name] = _convert(name, value)
    return replace(settings, **changes)


def _convert(name: str, value: Any) -> Any:
    if name in ("token_ttl", "agent_down_time"):
        return timedelta(seconds=_number(name, value))
    if name == "build_wait":
        seconds = _number(name, value)
        if seconds > MAX_BUILD_WAIT:
            raise InvalidInput(name, f"must be at most {MAX_BUILD_WAIT:g} seconds", value)
        return timedelta(seconds=seconds)
    if name == "network_vlan_ranges":
        return parse_network_vlan_ranges(value, where="network_vlan_ranges")
    if name == "flat_networks":
        items = value if isinstance(value, list) else str(value).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    if name == "scheduler_strategy":
        if value not in ("spread", "pack"):
            raise InvalidInput("scheduler_strategy", "must be spread or pack", value)
        return value
    if name == "pci_weight_multiplier":
        return _number(name, value)
    if name == "scheduler_candidates":
        number = int(_number(name, value))
        if number < 1:
            raise InvalidInput(name, "must be at least 1", value)
        return number
    if name == "aliases":
        entries = value if isinstance(value, list) else [value]
        return {alias.name: alias for alias in parse_aliases(entries)}
    return str(value)


def _number(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(name, "must be a number", value) from None
    if number < 0:
        raise InvalidInput(name, "must not be negative", value)
    return number
