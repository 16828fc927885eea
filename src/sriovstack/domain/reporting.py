"""What an agent reports of its host: facts (CPUs, memory, NUMA, zone) and the devices its
device specs offer, with the pool tags they carry; and how that report reads from the wire."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.devspec import DeviceSpecList, DevType, TagValue
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.inventory import HostInventory
from sriovstack.domain.mappings import SriovAgentConfig
from sriovstack.domain.pools import UNPOOLED_TAGS, select_devices

MAX_CPUS = 4096
MAX_MEMORY_MIB = 64 * 1024 * 1024  # 64 TiB
HOST_NAME_LENGTH = 255


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


@dataclass(frozen=True, slots=True)
class HostReport:
    """One agent report: the host's facts and its offered devices."""

    host: str
    facts: HostFacts
    pfs: tuple[ReportedPF, ...]


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
            }
            for pf in report.pfs
        ],
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
    return HostReport(host, _facts(facts), reported)


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
    )


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
