"""A fleet file (TOML): the simulated hosts ``sriovstack up`` runs, and the one it ships."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeGuard

from sriovstack.agent.config import FactsSettings, SriovSettings, read_facts, read_sriov_config
from sriovstack.domain.errors import InvalidInput, NotFound
from sriovstack.simulator.profiles import load_profile

DEFAULT_SOURCE = "the default fleet"
MAX_HOST_NAME = 63  # a DNS label: the name is also the host's directory in the state dir
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TOP_KEYS = ("controller", "host")
_HOST_KEYS = ("name", "profile", "vfs", "config", "availability_zone", "facts")


@dataclass(frozen=True, slots=True)
class FleetHost:
    """One simulated host: its machine, the VFs made on its first start, what it offers."""

    name: str
    profile: str  # a shipped profile's name, or a profile file's absolute path
    vfs: Mapping[str, int] = field(default_factory=dict)  # PF netdev -> VFs
    sriov: SriovSettings = field(default_factory=SriovSettings)
    availability_zone: str = "nova"
    facts: FactsSettings = field(default_factory=FactsSettings)

    def identity(self) -> dict[str, Any]:
        """What a state directory keeps of the host: a host cannot change machine in place."""
        return {"profile": self.profile, "vfs": dict(sorted(self.vfs.items()))}


@dataclass(frozen=True, slots=True)
class Fleet:
    """The hosts, and the controller: DevStack's all-in-one node, where DHCP ports are bound
    and whose configuration's VLAN ranges and PCI aliases the API uses."""

    source: str
    hosts: tuple[FleetHost, ...]
    controller: str

    def host(self, name: str) -> FleetHost:
        return next(host for host in self.hosts if host.name == name)


def load_fleet(path: Path) -> Fleet:
    """The fleet in ``path``; relative paths in it are from its directory."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput("--fleet", f"cannot be read: {reason}", str(path)) from None
    return parse_fleet(text, base=path.absolute().parent, source=str(path))


def default_fleet() -> Fleet:
    """The talk's host sriov-1 with its local.conf, and sriov-2, a compute node like it."""
    folder = resources.files(__package__).joinpath("fleets")
    with resources.as_file(folder) as base:
        text = (base / "default.toml").read_text(encoding="utf-8")
        return parse_fleet(text, base=base, source=DEFAULT_SOURCE)


def parse_fleet(text: str, *, base: Path, source: str = "fleet") -> Fleet:
    """Read and check a fleet; the files it names are read now. Errors name the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(source, f"is not valid TOML ({exc})") from None
    _known(data, _TOP_KEYS, f"{source}: ", "")
    tables = data.get("host")
    if not isinstance(tables, list) or not tables:
        rule = "must list at least one host, each as a [[host]] table"
        raise InvalidInput(f"{source}: host", rule)
    hosts: list[FleetHost] = []
    for i, table in enumerate(tables):
        host = _Host(source, i, base).read(table)
        same = [j for j, other in enumerate(hosts) if other.name == host.name]
        if same:
            raise InvalidInput(
                f"{source}: host[{i}].name",
                f"is host[{same[0]}]'s too: names must differ",
                host.name,
            )
        hosts.append(host)
    controller = data.get("controller", hosts[0].name)
    if not isinstance(controller, str) or controller not in {host.name for host in hosts}:
        rule = "must be the name of one of the fleet's hosts"
        raise InvalidInput(f"{source}: controller", rule, controller)
    return Fleet(source, tuple(hosts), controller)


def _known(data: Mapping[str, Any], known: tuple[str, ...], prefix: str, where: str) -> None:
    for key in data:
        if key not in known:
            rule = f"is not a known key; known: {', '.join(known)}"
            raise InvalidInput(f"{prefix}{where}{key}", rule)


@dataclass(frozen=True, slots=True)
class _Host:
    """Reads the ``[[host]]`` table at ``index``; errors name ``SOURCE: host[INDEX].KEY``."""

    source: str
    index: int
    base: Path

    def invalid(self, key: str, rule: str, value: object = None) -> InvalidInput:
        return InvalidInput(f"{self.source}: host[{self.index}].{key}", rule, value)

    def read(self, table: object) -> FleetHost:
        if not isinstance(table, dict):
            raise InvalidInput(f"{self.source}: host[{self.index}]", "must be a table")
        _known(table, _HOST_KEYS, f"{self.source}: ", f"host[{self.index}].")
        name = self._name(table.get("name"))
        profile, netdevs = self._profile(table.get("profile"))
        zone = table.get("availability_zone", "nova")
        if not isinstance(zone, str) or not zone.strip():
            raise self.invalid("availability_zone", "must be a non-empty string", zone)
        return FleetHost(
            name=name,
            profile=profile,
            vfs=self._vfs(table.get("vfs", {}), profile, netdevs),
            sriov=self._config(table.get("config")),
            availability_zone=zone,
            facts=self._facts(table["facts"]) if "facts" in table else FactsSettings(),
        )

    def _name(self, name: object) -> str:
        if name is None:
            raise self.invalid("name", "is required")
        if not isinstance(name, str) or len(name) > MAX_HOST_NAME or not _NAME.fullmatch(name):
            rule = (
                f"must be a host name of 1-{MAX_HOST_NAME} letters, digits, '.', '-' and '_', "
                "starting with a letter or digit"
            )
            raise self.invalid("name", rule, name)
        return name

    def _profile(self, profile: object) -> tuple[str, tuple[str, ...]]:
        if profile is None:
            raise self.invalid("profile", "is required: a shipped profile name or a .toml file")
        if not isinstance(profile, str) or not profile.strip():
            raise self.invalid("profile", "must be a non-empty string", profile)
        if profile.endswith(".toml") or "/" in profile:
            profile = str(self.base / Path(profile).expanduser())
        try:
            loaded = load_profile(profile)
        except (NotFound, InvalidInput) as exc:
            raise self.invalid("profile", f"is not a usable host profile ({exc})") from None
        netdevs = tuple(fn.ifname for card in loaded.cards for fn in card.functions)
        return profile, netdevs

    def _vfs(self, vfs: object, profile: str, netdevs: tuple[str, ...]) -> dict[str, int]:
        if not isinstance(vfs, dict):
            raise self.invalid(
                "vfs", "must be a table of PF netdev = VF count, e.g. {enp3s0f1 = 7}"
            )
        for netdev, count in vfs.items():
            if netdev not in netdevs:
                rule = f"is not a PF of profile {Path(profile).stem}; its PFs: {', '.join(netdevs)}"
                raise self.invalid(f"vfs.{netdev}", rule)
            # The PF's own limit (sriov_totalvfs) is checked by the kernel when the VFs are made.
            if not _whole(count, 0, 4096):
                raise self.invalid(
                    f"vfs.{netdev}", "must be a whole number of VFs, 0 or more", count
                )
        return dict(vfs)

    def _config(self, config: object) -> SriovSettings:
        if config is None:
            return SriovSettings()
        if not isinstance(config, str) or not config.strip():
            raise self.invalid(
                "config", "must be a path to a local.conf or host config TOML", config
            )
        path = self.base / Path(config).expanduser()
        prefix = f"{self.source}: host[{self.index}].config {config}: "
        return read_sriov_config(path, self.invalid, prefix)

    def _facts(self, facts: object) -> FactsSettings:
        where = f"{self.source}: host[{self.index}].facts"
        return read_facts(facts, lambda key: where if key is None else f"{where}.{key}")


def _whole(value: object, low: int, high: int) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
