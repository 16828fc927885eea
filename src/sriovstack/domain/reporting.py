"""What an agent reports of its host: facts, offered devices with their NIC capabilities, and
its Neutron-style configuration; and how that report reads from the wire."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.catalogue import load_catalogue
from sriovstack.domain.devspec import DeviceSpecList, DevType, TagValue
from sriovstack.domain.errors import InvalidInput, NotFound
from sriovstack.domain.hostconfig import HostConfig
from sriovstack.domain.inventory import HostInventory
from sriovstack.domain.mappings import DeviceMappings, SriovAgentConfig
from sriovstack.domain.pools import UNPOOLED_TAGS, select_devices

MAX_CPUS = 4096
MAX_MEMORY_MIB = 64 * 1024 * 1024  # 64 TiB
HOST_NAME_LENGTH = 255

CapabilityValue = str | int | bool
"""A NIC capability: a name, a count or a yes/no."""

NIC_FACTS = (
    "link_speed_mbps",
    "mac_filters",
    "mac_filters_shared",
    "vlan_filters",
    "vlan_filters_shared",
    "vf_mac_limit",
    "vf_vlan_limit",
    "reports_spoofchk",
    "reports_trust",
    "supports_8021ad",
    "supports_min_rate",
)
"""The NIC catalogue's fields a PF's capabilities carry, under the same names (nics.toml says
what each means): filter table sizes per port and whether PF and VFs share them, per-VF caps
(0: none), what the driver reports and what it supports."""

CAPABILITY_KEYS = ("model", "model_name", *NIC_FACTS)
"""What a PF's ``capabilities`` hold: ``model`` is its catalogue key (x540), ``model_name`` its
name (Intel X540), then NIC_FACTS. Only static facts: usage counts would change the report, and
an agent re-sends its report whenever it differs."""

MAX_CAPABILITIES = 64
MAX_CAPABILITY_KEY = 64
MAX_CAPABILITY_TEXT = 255
MAX_CAPABILITY_NUMBER = 2**31 - 1
MAX_CONFIGURATION_BYTES = 16 * 1024  # a few hundred PFs' mappings and exclusions
MAX_CONFIGURATION_DEPTH = 8


@dataclass(frozen=True, slots=True)
class CellFacts:
    """A host NUMA node and its socket (None when the host does not say)."""

    id: int
    socket: int | None = None


@dataclass(frozen=True, slots=True)
class HostFacts:
    """A host's size and place, as its agent reads them."""

    cpus: int
    memory_mib: int
    numa_cells: tuple[CellFacts, ...] = ()
    availability_zone: str = "nova"
    hypervisor_type: str = "QEMU"
    host_ip: str | None = None


@dataclass(frozen=True, slots=True)
class ReportedVF:
    index: int
    address: PciAddress


@dataclass(frozen=True, slots=True)
class ReportedPF:
    """A PF whose VFs (``vfs``) or whole self (``offered_whole``) a device spec offers."""

    address: PciAddress
    vendor_id: int
    device_id: int
    vf_device_id: int
    netdev: str | None
    numa_node: int | None
    total_vfs: int
    physnet: str | None
    tags: tuple[tuple[str, TagValue], ...] = ()  # the spec's other pool tags (trusted, ...)
    offered_whole: bool = False
    vfs: tuple[ReportedVF, ...] = ()
    capabilities: tuple[tuple[str, CapabilityValue], ...] = ()  # CAPABILITY_KEYS, sorted


@dataclass(frozen=True, slots=True)
class AgentConfiguration:
    """An agent's configuration as Neutron's agents show it ("configurations"): a JSON object.

    Kept as canonical JSON text (sorted keys) so that reports compare and hash by value: the
    agent re-sends its report only when it differs from the last one.
    """

    text: str = "{}"  # canonical: build it with ``of``

    @classmethod
    def of(cls, data: Any, where: str = "configuration") -> AgentConfiguration:
        """The configuration ``data``; InvalidInput when it is no JSON object or too large."""
        _json_value(_mapping(data, where), where, MAX_CONFIGURATION_DEPTH)
        try:
            text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except ValueError:
            raise InvalidInput(where, "must not hold NaN or infinite numbers") from None
        if len(text.encode()) > MAX_CONFIGURATION_BYTES:
            raise InvalidInput(where, f"must be at most {MAX_CONFIGURATION_BYTES} bytes of JSON")
        return cls(text)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.text)
        return data


@dataclass(frozen=True, slots=True)
class HostReport:
    """One agent report: the host's facts, its offered devices and its agent's configuration."""

    host: str
    facts: HostFacts
    pfs: tuple[ReportedPF, ...]
    configuration: AgentConfiguration = AgentConfiguration()


def nic_capabilities(model: str | None) -> tuple[tuple[str, CapabilityValue], ...]:
    """The catalogue's facts of NIC ``model`` (a catalogue key) by CAPABILITY_KEYS, sorted by
    key; none for a NIC the catalogue does not know."""
    if model is None:
        return ()
    try:
        nic = load_catalogue().get(model)
    except NotFound:
        return ()
    facts: dict[str, CapabilityValue] = {
        "model": nic.key,
        "model_name": nic.name,
        **{key: getattr(nic, key) for key in NIC_FACTS},
    }
    return tuple(sorted(facts.items()))


def agent_configuration(config: HostConfig) -> dict[str, Any]:
    """The agent's Neutron settings as its agent record shows them: physnet mappings, excluded
    VFs by PF, FDB-shared PFs, and the agent extensions they turn on (``fdb``).

    A report carries it as ``AgentConfiguration.of(agent_configuration(config))``.
    """
    excluded = {
        device: sorted(str(address) for address in vfs)
        for device, vfs in config.agent.exclude_devices.entries
    }
    return {
        "device_mappings": _mappings(config.agent.device_mappings),
        "exclude_devices": excluded,
        "fdb_mappings": _mappings(config.fdb_mappings),
        "extensions": ["fdb"] if config.fdb_mappings.entries else [],
    }


def _mappings(mappings: DeviceMappings) -> dict[str, list[str]]:
    return {physnet: list(devices) for physnet, devices in mappings.entries}


def offered_devices(
    inventory: HostInventory, specs: DeviceSpecList, agent: SriovAgentConfig | None = None
) -> tuple[ReportedPF, ...]:
    """The PFs and VFs ``specs`` select on a host, minus VFs Neutron's agent config refuses.

    A PF's VFs share the tags of the first spec that selects one of them: the store keeps one
    pool per PF, which is also how Nova splits pools since Antelope. A PF with VFs enabled is
    not offered whole, unlike Nova: passing it through would tear its VFs down under their
    users, so a boot that got it could only fail on the host.
    """
    selected = select_devices(inventory, specs, agent=agent)
    with_vfs: set[PciAddress] = set()
    tags: dict[PciAddress, tuple[tuple[str, TagValue], ...]] = {}
    whole: set[PciAddress] = set()
    for item in selected:
        function = item.function
        if item.problems:
            continue
        if function.dev_type is DevType.VF and function.parent is not None:
            with_vfs.add(function.parent)
            tags.setdefault(function.parent, item.spec.tags)
        elif function.dev_type is DevType.PF:
            whole.add(function.address)
            tags.setdefault(function.address, item.spec.tags)
    chosen = {item.function.address for item in selected if not item.problems}
    reported = []
    for pf in inventory.pfs:
        if pf.address not in with_vfs and pf.address not in whole:
            continue
        pf_tags = dict(tags.get(pf.address, ()))
        physnet = pf_tags.pop("physical_network", None)
        reported.append(
            ReportedPF(
                address=pf.address,
                vendor_id=pf.vendor_id,
                device_id=pf.device_id,
                vf_device_id=pf.vf_device_id,
                netdev=pf.netdev,
                numa_node=pf.numa_node,
                total_vfs=pf.total_vfs,
                physnet=physnet if isinstance(physnet, str) else None,
                tags=tuple((k, v) for k, v in sorted(pf_tags.items()) if k not in UNPOOLED_TAGS),
                offered_whole=pf.address in whole and not pf.vfs,
                vfs=tuple(
                    ReportedVF(vf.index, vf.address) for vf in pf.vfs if vf.address in chosen
                ),
                capabilities=nic_capabilities(pf.model),
            )
        )
    return tuple(reported)


def report_to_wire(report: HostReport) -> dict[str, Any]:
    """The report as the native API's JSON body."""
    facts = report.facts
    return {
        "host": report.host,
        "facts": {
            "cpus": facts.cpus,
            "memory_mib": facts.memory_mib,
            "numa_cells": [{"id": c.id, "socket": c.socket} for c in facts.numa_cells],
            "availability_zone": facts.availability_zone,
            "hypervisor_type": facts.hypervisor_type,
            "host_ip": facts.host_ip,
        },
        "pfs": [
            {
                "address": str(pf.address),
                "vendor_id": f"{pf.vendor_id:04x}",
                "device_id": f"{pf.device_id:04x}",
                "vf_device_id": f"{pf.vf_device_id:04x}",
                "netdev": pf.netdev,
                "numa_node": pf.numa_node,
                "total_vfs": pf.total_vfs,
                "physnet": pf.physnet,
                "tags": dict(pf.tags),
                "offered_whole": pf.offered_whole,
                "vfs": [{"index": vf.index, "address": str(vf.address)} for vf in pf.vfs],
                "capabilities": dict(pf.capabilities),
            }
            for pf in report.pfs
        ],
        "configuration": report.configuration.to_dict(),
    }


def report_from_wire(host: str, data: Mapping[str, Any]) -> HostReport:
    """A report from the native API's JSON body; InvalidInput names the field that is wrong."""
    if not host or len(host) > HOST_NAME_LENGTH:
        raise InvalidInput("host", f"must be 1-{HOST_NAME_LENGTH} characters", host)
    facts = _mapping(data.get("facts"), "facts")
    pfs = data.get("pfs", [])
    if not isinstance(pfs, list):
        raise InvalidInput("pfs", "must be a list of PFs")
    reported = tuple(_pf(item, f"pfs[{i}]") for i, item in enumerate(pfs))
    addresses = [pf.address for pf in reported]
    if len(set(addresses)) != len(addresses):
        raise InvalidInput("pfs", "lists a PF address twice")
    # Absent from agents older than the configuration: they report none.
    configuration = AgentConfiguration.of(data.get("configuration", {}))
    return HostReport(host, _facts(facts), reported, configuration)


def _facts(data: Mapping[str, Any]) -> HostFacts:
    cells = data.get("numa_cells", [])
    if not isinstance(cells, list):
        raise InvalidInput("facts.numa_cells", "must be a list of {id, socket}")
    parsed = []
    for i, cell in enumerate(cells):
        item = _mapping(cell, f"facts.numa_cells[{i}]")
        socket = item.get("socket")
        parsed.append(
            CellFacts(
                _int(item.get("id"), f"facts.numa_cells[{i}].id", 0, 1023),
                None if socket is None else _int(socket, f"facts.numa_cells[{i}].socket", 0, 1023),
            )
        )
    zone = data.get("availability_zone", "nova")
    if not isinstance(zone, str) or not zone or len(zone) > 255:
        raise InvalidInput("facts.availability_zone", "must be a zone name", zone)
    host_ip = data.get("host_ip")
    return HostFacts(
        cpus=_int(data.get("cpus"), "facts.cpus", 1, MAX_CPUS),
        memory_mib=_int(data.get("memory_mib"), "facts.memory_mib", 1, MAX_MEMORY_MIB),
        numa_cells=tuple(parsed),
        availability_zone=zone,
        hypervisor_type=str(data.get("hypervisor_type", "QEMU")),
        host_ip=None if host_ip is None else str(host_ip),
    )


def _pf(data: Any, where: str) -> ReportedPF:
    item = _mapping(data, where)
    address = _address(item.get("address"), f"{where}.address")
    total = _int(item.get("total_vfs"), f"{where}.total_vfs", 0, 65535)
    vfs = item.get("vfs", [])
    if not isinstance(vfs, list):
        raise InvalidInput(f"{where}.vfs", "must be a list of {index, address}")
    parsed_vfs = []
    for i, vf in enumerate(vfs):
        entry = _mapping(vf, f"{where}.vfs[{i}]")
        index = _int(entry.get("index"), f"{where}.vfs[{i}].index", 0, max(total - 1, 0))
        parsed_vfs.append(ReportedVF(index, _address(entry.get("address"), f"{where}.vfs[{i}]")))
    if len({vf.index for vf in parsed_vfs}) != len(parsed_vfs):
        raise InvalidInput(f"{where}.vfs", "lists a VF index twice")
    tags = _mapping(item.get("tags", {}), f"{where}.tags")
    physnet = item.get("physnet")
    if physnet is not None and (not isinstance(physnet, str) or not physnet):
        raise InvalidInput(f"{where}.physnet", "must be a physnet name or null", physnet)
    numa = item.get("numa_node")
    netdev = item.get("netdev")
    return ReportedPF(
        address=address,
        vendor_id=_hex(item.get("vendor_id"), f"{where}.vendor_id"),
        device_id=_hex(item.get("device_id"), f"{where}.device_id"),
        vf_device_id=_hex(item.get("vf_device_id", "0"), f"{where}.vf_device_id"),
        netdev=None if netdev is None else str(netdev),
        numa_node=None if numa is None else _int(numa, f"{where}.numa_node", 0, 1023),
        total_vfs=total,
        physnet=physnet,
        tags=tuple(sorted((str(k), _tag(v, f"{where}.tags.{k}")) for k, v in tags.items())),
        offered_whole=bool(item.get("offered_whole", False)),
        vfs=tuple(parsed_vfs),
        capabilities=_capabilities(item.get("capabilities", {}), f"{where}.capabilities"),
    )


def _capabilities(data: Any, where: str) -> tuple[tuple[str, CapabilityValue], ...]:
    items = _mapping(data, where)
    if len(items) > MAX_CAPABILITIES:
        raise InvalidInput(where, f"must hold at most {MAX_CAPABILITIES} capabilities", len(items))
    parsed: list[tuple[str, CapabilityValue]] = []
    for key, value in items.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_CAPABILITY_KEY:
            raise InvalidInput(where, f"keys must be 1-{MAX_CAPABILITY_KEY} characters", key)
        parsed.append((key, _capability(value, f"{where}.{key}")))
    return tuple(sorted(parsed))


def _capability(value: Any, where: str) -> CapabilityValue:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _int(value, where, 0, MAX_CAPABILITY_NUMBER)
    if isinstance(value, str) and len(value) <= MAX_CAPABILITY_TEXT:
        return value
    rule = f"must be text of up to {MAX_CAPABILITY_TEXT} characters, a whole number or true/false"
    raise InvalidInput(where, rule, value)


def _json_value(value: Any, where: str, depth: int) -> None:
    """Refuse what JSON cannot hold, and nesting deeper than ``depth``."""
    if depth < 0:
        raise InvalidInput(where, f"must nest at most {MAX_CONFIGURATION_DEPTH} levels deep")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(where, "must have string keys", key)
            _json_value(item, f"{where}.{key}", depth - 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _json_value(item, f"{where}[{i}]", depth - 1)
    elif value is not None and not isinstance(value, str | int | float):
        raise InvalidInput(where, "must be a JSON value", repr(value))


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(where, "must be a JSON object")
    return value


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(where, f"must be a whole number from {low} to {high}", value)
    return value


def _hex(value: Any, where: str) -> int:
    try:
        number = int(str(value), 16)
    except ValueError:
        raise InvalidInput(where, "must be a hexadecimal ID such as 8086", value) from None
    if not 0 <= number <= 0xFFFF:
        raise InvalidInput(where, "must be a 16-bit hexadecimal ID", value)
    return number


def _address(value: Any, where: str) -> PciAddress:
    try:
        return PciAddress.parse(str(value))
    except InvalidInput:
        raise InvalidInput(where, "must be a PCI address such as 0000:03:00.0", value) from None


def _tag(value: Any, where: str) -> TagValue:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"  # as the device spec treats a JSON boolean
    raise InvalidInput(where, "must be a string, a boolean or null", value)
