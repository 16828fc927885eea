"""Host profiles: TOML descriptions of simulated machines (CPU, memory, bridges, NICs, boot)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.catalogue import NicModel, load_catalogue
from sriovstack.domain.errors import InvalidInput, NotFound


@dataclass(frozen=True, slots=True)
class BridgeProfile:
    """A PCIe root or downstream port: the bus range firmware gave it."""

    address: PciAddress
    vendor_id: int
    device_id: int
    secondary_bus: int
    subordinate_bus: int
    ari_forwarding: bool = True
    numa_node: int = -1


@dataclass(frozen=True, slots=True)
class FunctionProfile:
    """One PF of a card: where it sits and how firmware left it."""

    address: PciAddress
    ifname: str
    mac: MacAddress
    ari: bool
    total_vfs: int | None = None  # NVM-provisioned TotalVFs where the card allows it


@dataclass(frozen=True, slots=True)
class CardProfile:
    """A NIC card of a catalogue model behind a bridge."""

    model: NicModel
    device_id: int
    bridge: PciAddress
    numa_node: int
    functions: tuple[FunctionProfile, ...]
    sriov_in_firmware: bool = True


@dataclass(frozen=True, slots=True)
class HostProfile:
    """A whole simulated machine as it boots."""

    name: str
    description: str
    hostname: str
    cpu_model: str
    cpu_vendor: str  # "intel" or "amd": decides which IOMMU parameter applies
    sockets: int
    cores_per_socket: int
    threads_per_core: int
    memory_mib: int
    kernel_version: str
    cmdline: str
    iommu_default_on: bool
    firmware_assigns_vf_bars: bool
    pf_links_up: bool
    blacklist: frozenset[str]
    bridges: tuple[BridgeProfile, ...]
    cards: tuple[CardProfile, ...]
    numa_nodes: int = 1
    extends: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def cpus(self) -> int:
        return self.sockets * self.cores_per_socket * self.threads_per_core

    def booted_with(self, extra_args: str) -> HostProfile:
        """The same machine rebooted with more kernel parameters."""
        return replace(self, cmdline=f"{self.cmdline} {extra_args}".strip())


_PROFILE_DIR = "profiles"


def profile_names() -> list[str]:
    """Names of the profiles shipped with sriovstack."""
    folder = resources.files(__package__).joinpath(_PROFILE_DIR)
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str) -> HostProfile:
    """Load a shipped profile by name, or a profile file by path."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise NotFound("profile file", name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(str(path), f"is not UTF-8 text: {exc}") from None
        return parse_profile(text, source=str(path))
    return _shipped_profile(name_or_path)


@cache
def _shipped_profile(name: str) -> HostProfile:
    if name not in profile_names():
        raise NotFound("profile", name, "see `sriovstack sim profiles`")
    text = resources.files(__package__).joinpath(_PROFILE_DIR, f"{name}.toml").read_text("utf-8")
    return parse_profile(text, source=name)


def parse_profile(text: str, *, source: str = "profile") -> HostProfile:
    """Parse and validate profile TOML; errors name the file and the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(source, f"is not valid TOML: {exc}") from None
    base = data.get("extends")
    if base is not None:
        if not isinstance(base, str):
            raise InvalidInput(f"{source}: extends", "must be a profile name")
        data = _merge(dict(_shipped_profile(base).raw), data)
    return _Reader(source, data).profile()


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay ``over`` on ``base``; ``cmdline_append`` adds kernel parameters."""
    merged = {**base, **{k: v for k, v in over.items() if k != "cmdline_append"}}
    extra = over.get("cmdline_append")
    if extra:
        merged["cmdline"] = f"{merged.get('cmdline', '')} {extra}".strip()
    return merged


class _Reader:
    """Typed access to a profile's TOML with errors naming the field."""

    def __init__(self, source: str, data: Mapping[str, Any]) -> None:
        self.source = source
        self.data = data

    def _get(
        self, table: Mapping[str, Any], key: str, kind: type, where: str, default: Any = ...
    ) -> Any:
        if key not in table:
            if default is ...:
                raise InvalidInput(f"{self.source}: {where}{key}", "is required")
            return default
        value = table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise InvalidInput(f"{self.source}: {where}{key}", f"must be a {kind.__name__}", value)
        return value

    def _tables(self, table: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
        """An array of tables; an entry of another type is refused by its index."""
        items: list[Any] = self._get(table, key, list, where)
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise InvalidInput(f"{self.source}: {where}{key}[{i}]", "must be a table", item)
        return items

    def _hex(self, table: Mapping[str, Any], key: str, where: str) -> int:
        text = self._get(table, key, str, where)
        try:
            value = int(text, 16)
        except ValueError:
            raise InvalidInput(
                f"{self.source}: {where}{key}", "must be hex like 1528", text
            ) from None
        if not 0 <= value <= 0xFFFF:
            raise InvalidInput(f"{self.source}: {where}{key}", "must be 0000-ffff", text)
        return value

    def _pci(self, table: Mapping[str, Any], key: str, where: str) -> PciAddress:
        return PciAddress.parse(self._get(table, key, str, where), f"{self.source}: {where}{key}")

    def profile(self) -> HostProfile:
        d = self.data
        bridges = tuple(self._bridge(b, i) for i, b in enumerate(self._tables(d, "bridge", "")))
        known = {b.address for b in bridges}
        cards = tuple(self._card(c, i, known) for i, c in enumerate(self._tables(d, "card", "")))
        self._check_unique(cards)
        vendor = self._get(d, "cpu_vendor", str, "")
        if vendor not in ("intel", "amd"):
            raise InvalidInput(f"{self.source}: cpu_vendor", "must be intel or amd", vendor)
        return HostProfile(
            name=self._get(d, "name", str, ""),
            description=self._get(d, "description", str, "", ""),
            hostname=self._get(d, "hostname", str, ""),
            cpu_model=self._get(d, "cpu_model", str, ""),
            cpu_vendor=vendor,
            sockets=self._positive(d, "sockets"),
            cores_per_socket=self._positive(d, "cores_per_socket"),
            threads_per_core=self._positive(d, "threads_per_core"),
            memory_mib=self._positive(d, "memory_mib"),
            numa_nodes=self._positive(d, "numa_nodes", 1),
            kernel_version=self._get(d, "kernel_version", str, ""),
            cmdline=self._get(d, "cmdline", str, ""),
            iommu_default_on=self._get(d, "iommu_default_on", bool, "", False),
            firmware_assigns_vf_bars=self._get(d, "firmware_assigns_vf_bars", bool, "", True),
            pf_links_up=self._get(d, "pf_links_up", bool, "", True),
            blacklist=frozenset(self._get(d, "blacklist", list, "", [])),
            bridges=bridges,
            cards=cards,
            extends=d.get("extends"),
            raw=dict(d),
        )

    def _positive(self, d: Mapping[str, Any], key: str, default: Any = ...) -> int:
        value: int = self._get(d, key, int, "", default)
        if value < 1:
            raise InvalidInput(f"{self.source}: {key}", "must be 1 or more", value)
        return value

    def _bridge(self, b: Mapping[str, Any], i: int) -> BridgeProfile:
        where = f"bridge[{i}]."
        secondary = self._get(b, "secondary_bus", int, where)
        subordinate = self._get(b, "subordinate_bus", int, where)
        if not 0 <= secondary <= subordinate <= 0xFF:
            raise InvalidInput(
                f"{self.source}: {where}subordinate_bus",
                "must satisfy 0 <= secondary_bus <= subordinate_bus <= 255",
                subordinate,
            )
        return BridgeProfile(
            address=self._pci(b, "address", where),
            vendor_id=self._hex(b, "vendor_id", where),
            device_id=self._hex(b, "device_id", where),
            secondary_bus=secondary,
            subordinate_bus=subordinate,
            ari_forwarding=self._get(b, "ari_forwarding", bool, where, True),
            numa_node=self._get(b, "numa_node", int, where, -1),
        )

    def _card(self, c: Mapping[str, Any], i: int, bridges: set[PciAddress]) -> CardProfile:
        where = f"card[{i}]."
        key = self._get(c, "model", str, where)
        try:
            model = load_catalogue().get(key)
        except NotFound:
            known = ", ".join(m.key for m in load_catalogue())
            raise InvalidInput(
                f"{self.source}: {where}model", f"must be one of {known}", key
            ) from None
        device_id = self._hex(c, "device_id", where)
        if device_id not in model.pf_devices:
            known = ", ".join(f"{d:04x}" for d in model.pf_devices)
            raise InvalidInput(
                f"{self.source}: {where}device_id", f"must be one of {known}", device_id
            )
        bridge = self._pci(c, "bridge", where)
        if bridge not in bridges:
            raise InvalidInput(
                f"{self.source}: {where}bridge", "must name a [[bridge]]", str(bridge)
            )
        functions = tuple(
            self._function(f, f"{where}functions[{j}].", model)
            for j, f in enumerate(self._tables(c, "functions", where))
        )
        if not functions:
            raise InvalidInput(f"{self.source}: {where}functions", "must list at least one PF")
        return CardProfile(
            model=model,
            device_id=device_id,
            bridge=bridge,
            numa_node=self._get(c, "numa_node", int, where, -1),
            functions=functions,
            sriov_in_firmware=self._get(c, "sriov_in_firmware", bool, where, True),
        )

    def _function(self, f: Mapping[str, Any], where: str, model: NicModel) -> FunctionProfile:
        total = self._get(f, "total_vfs", int, where, None)
        # Cards that split one VF pool among their ports in NVM (700/800 series, ConnectX,
        # NetXtreme) may give one port more than the usual share; the others may not.
        limit = model.total_vfs_hw * (model.ports if model.vf_layout == "consecutive" else 1)
        if total is not None and not 1 <= total <= limit:
            raise InvalidInput(f"{self.source}: {where}total_vfs", f"must be 1..{limit}", total)
        return FunctionProfile(
            address=self._pci(f, "address", where),
            ifname=self._get(f, "ifname", str, where),
            mac=MacAddress.parse(self._get(f, "mac", str, where), f"{self.source}: {where}mac"),
            ari=self._get(f, "ari", bool, where, True),
            total_vfs=total,
        )

    def _check_unique(self, cards: tuple[CardProfile, ...]) -> None:
        seen_addr: set[PciAddress] = set()
        seen_name: set[str] = set()
        for fn in (f for c in cards for f in c.functions):
            if fn.address in seen_addr:
                raise InvalidInput(
                    f"{self.source}: functions", "addresses must be unique", str(fn.address)
                )
            if fn.ifname in seen_name:
                raise InvalidInput(f"{self.source}: functions", "ifnames must be unique", fn.ifname)
            seen_addr.add(fn.address)
            seen_name.add(fn.ifname)
