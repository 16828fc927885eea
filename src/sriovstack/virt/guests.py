"""Guests as the hypervisor seam sees them: a spec (CPU, memory, NICs) and a power state."""

from __future__ import annotations

import enum
import re
import uuid as _uuid
from dataclasses import dataclass

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.requesting import VnicType

# A port ID becomes part of a libvirt user alias ("ua-" + ID), which allows only these.
_PORT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# IFNAMSIZ is 16 with the NUL; the kernel refuses "/", ":" and whitespace in a netdev name.
_IFNAME = re.compile(r"^[^/:\s]{1,15}$")
VLAN_RANGE = range(1, 4095)


class NicKind(enum.StrEnum):
    """How a port reaches its guest, after Nova's libvirt VIF types (nova-pci.md §1.4)."""

    HOSTDEV = "hostdev"  # a VF passed through: vnic_type direct, vif_type hw_veb
    MACVTAP = "macvtap"  # a macvtap in passthrough mode on a VF's netdev: vnic_type macvtap
    HOSTDEV_PF = "hostdev-pf"  # a whole PF passed through: vnic_type direct-physical
    BRIDGE = "bridge"  # a virtio NIC on an Open vSwitch bridge: vnic_type normal

    @classmethod
    def for_vnic_type(cls, vnic_type: VnicType) -> NicKind:
        """The guest device a port of this ``binding:vnic_type`` gets."""
        kinds = {
            VnicType.NORMAL: cls.BRIDGE,
            VnicType.DIRECT: cls.HOSTDEV,
            # The NIC is programmed by whoever manages it remotely; the host still passes a VF.
            VnicType.REMOTE_MANAGED: cls.HOSTDEV,
            VnicType.MACVTAP: cls.MACVTAP,
            VnicType.DIRECT_PHYSICAL: cls.HOSTDEV_PF,
        }
        try:
            return kinds[vnic_type]
        except KeyError:
            raise InvalidInput(
                "binding:vnic_type",
                f"must be one of {', '.join(sorted(str(k) for k in kinds))} for a guest NIC",
                str(vnic_type),
            ) from None


# What each kind needs (True), refuses (False) or may have (absent).
_FIELDS: dict[NicKind, dict[str, bool]] = {
    NicKind.HOSTDEV: {"pci_address": True, "source_dev": False, "bridge": False},
    NicKind.MACVTAP: {"source_dev": True, "pci_address": False, "bridge": False},
    NicKind.HOSTDEV_PF: {"pci_address": True, "source_dev": False, "bridge": False},
    NicKind.BRIDGE: {"bridge": True, "pci_address": False, "source_dev": False},
}


@dataclass(frozen=True, slots=True)
class GuestNic:
    """One port plugged into a guest.

    ``pci_address`` is the VF (HOSTDEV) or the PF (HOSTDEV_PF); ``source_dev`` is the VF's
    netdev (MACVTAP); ``bridge`` the OVS bridge (BRIDGE). Each kind has exactly the field it
    needs. ``vlan`` is the port VLAN libvirt programs; None is untagged.
    """

    port_id: str
    mac: MacAddress
    kind: NicKind
    pci_address: PciAddress | None = None
    vlan: int | None = None
    source_dev: str | None = None
    bridge: str | None = None

    def __post_init__(self) -> None:
        if not _PORT_ID.match(self.port_id):
            raise InvalidInput(
                "nics.port_id", "must be 1-64 letters, digits, '-' or '_'", self.port_id
            )
        where = f"nics[{self.port_id}]"
        self.mac.require_unicast(f"{where}.mac")
        for name, needed in _FIELDS[self.kind].items():
            present = getattr(self, name) is not None
            if needed and not present:
                raise InvalidInput(f"{where}.{name}", f"a {self.kind} NIC needs one")
            if present and not needed:
                raise InvalidInput(
                    f"{where}.{name}", f"a {self.kind} NIC has none", getattr(self, name)
                )
        for name in ("source_dev", "bridge"):
            value = getattr(self, name)
            if value is not None and not _IFNAME.match(value):
                raise InvalidInput(
                    f"{where}.{name}",
                    "must be a netdev name: 1-15 characters, no '/', ':' or space",
                    value,
                )
        if self.vlan is not None:
            if self.vlan not in VLAN_RANGE:
                raise InvalidInput(f"{where}.vlan", "must be 1-4094", self.vlan)
            if self.kind is NicKind.HOSTDEV_PF:
                # libvirt has no VLAN for a plain <hostdev>: the guest owns the whole PF, and
                # only the physical switch could isolate it. Refuse rather than drop the tag.
                raise InvalidInput(
                    f"{where}.vlan",
                    "a whole PF passed through cannot be given a VLAN; tag it on the switch",
                    self.vlan,
                )

    @property
    def alias(self) -> str:
        """The libvirt user alias that names this NIC's device in its domain."""
        return f"ua-{self.port_id}"


class PowerState(enum.IntEnum):
    """A guest's power state, numbered as Nova's ``power_state`` (what the API reports)."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


def canonical_uuid(text: str, field: str = "uuid") -> str:
    """A guest UUID in the lower-case hyphenated form libvirt prints."""
    try:
        return str(_uuid.UUID(text))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(field, "must be a UUID", text) from None


@dataclass(frozen=True, slots=True)
class GuestSpec:
    """What a guest is made of; ``uuid`` is kept in its canonical lower-case form.

    NICs keep their order (the guest numbers its NICs by it), except that whole PFs come last.
    """

    uuid: str
    name: str
    vcpus: int
    memory_mib: int
    nics: tuple[GuestNic, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "uuid", canonical_uuid(self.uuid))
        # libvirt refuses "/" in a domain name: it becomes a file name under /etc/libvirt.
        if not self.name.strip() or "/" in self.name or len(self.name) > 255:
            raise InvalidInput(
                "name", "must be 1-255 characters, not blank, without '/'", self.name
            )
        if self.vcpus < 1:
            raise InvalidInput("vcpus", "must be at least 1", self.vcpus)
        if self.memory_mib < 1:
            raise InvalidInput("memory_mib", "must be at least 1", self.memory_mib)
        # libvirt lists every <interface> before any <hostdev>, whatever order it was given, so
        # whole PFs go last here too: a spec then reads back from libvirt equal to itself.
        nics = sorted(self.nics, key=lambda n: n.kind is NicKind.HOSTDEV_PF)
        object.__setattr__(self, "nics", tuple(nics))
        _check_unique(self.nics)

    def nic(self, port_id: str) -> GuestNic | None:
        return next((n for n in self.nics if n.port_id == port_id), None)

    def with_nic(self, nic: GuestNic) -> GuestSpec:
        """This spec with ``nic`` added (it must be a new port)."""
        return GuestSpec(self.uuid, self.name, self.vcpus, self.memory_mib, (*self.nics, nic))

    def without_nic(self, port_id: str) -> GuestSpec:
        nics = tuple(n for n in self.nics if n.port_id != port_id)
        return GuestSpec(self.uuid, self.name, self.vcpus, self.memory_mib, nics)


def _check_unique(nics: tuple[GuestNic, ...]) -> None:
    ports: set[str] = set()
    devices: dict[PciAddress, str] = {}
    for nic in nics:
        if nic.port_id in ports:
            raise InvalidInput("nics.port_id", "each port may be plugged once", nic.port_id)
        ports.add(nic.port_id)
        if nic.pci_address is None:
            continue
        other = devices.setdefault(nic.pci_address, nic.port_id)
        if other != nic.port_id:
            raise InvalidInput(
                f"nics[{nic.port_id}].pci_address",
                f"{nic.pci_address} is already given to port {other}",
            )


@dataclass(frozen=True, slots=True)
class Guest:
    """A guest as its hypervisor holds it."""

    spec: GuestSpec
    power_state: PowerState

    @property
    def uuid(self) -> str:
        return self.spec.uuid

    @property
    def running(self) -> bool:
        return self.power_state in (PowerState.RUNNING, PowerState.PAUSED)
