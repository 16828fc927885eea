"""Neutron's SR-IOV settings: physnet-to-PF mappings, excluded VFs, vendor devices, VLAN ranges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import InvalidInput

MIN_VLAN, MAX_VLAN = 1, 4094  # 0 means untagged and 4095 is reserved (802.1Q)

ListValue = str | Sequence[str]
"""An oslo.config list option: comma-separated text, or the items already split."""


def split_list(value: ListValue, *, where: str) -> tuple[str, ...]:
    """The items of a list option, stripped, empty ones dropped."""
    if isinstance(value, str):
        items: Sequence[object] = value.split(",")
    elif isinstance(value, Sequence):
        items = value
    else:
        raise InvalidInput(where, "must be comma-separated text or a list of strings", value)
    out = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidInput(where, "each item must be a string", item)
        if item.strip():
            out.append(item.strip())
    return tuple(out)


@dataclass(frozen=True, slots=True)
class DeviceMappings:
    """``[sriov_nic] physical_device_mappings``: each physnet with the PF netdevs that carry it."""

    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def physnets(self) -> tuple[str, ...]:
        return tuple(physnet for physnet, _ in self.entries)

    @property
    def devices(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for _, devices in self.entries:
            seen.update(dict.fromkeys(devices))
        return tuple(seen)

    def physnets_of(self, device: str) -> tuple[str, ...]:
        return tuple(physnet for physnet, devices in self.entries if device in devices)

    def __str__(self) -> str:
        return ",".join(f"{p}:{d}" for p, devices in self.entries for d in devices)


def parse_device_mappings(
    value: ListValue, *, where: str = "physical_device_mappings"
) -> DeviceMappings:
    """``physnet1:enp3s0f1,physnet2:ens2``: a physnet may name several PFs, repeats are dropped."""
    mapping: dict[str, list[str]] = {}
    for entry in split_list(value, where=where):
        parts = entry.split(":")
        if len(parts) != 2:
            raise InvalidInput(where, "each entry must be physnet:device, with one ':'", entry)
        physnet, device = parts[0].strip(), parts[1].strip()
        if not physnet:
            raise InvalidInput(where, "an entry is missing its physnet (the key)", entry)
        if not device:
            raise InvalidInput(where, "an entry is missing its device (the value)", entry)
        # Like Neutron's parse_mappings(unique_keys=False): one device may serve several
        # physnets and one physnet several devices.
        devices = mapping.setdefault(physnet, [])
        if device not in devices:
            devices.append(device)
    return DeviceMappings(tuple((p, tuple(d)) for p, d in mapping.items()))


@dataclass(frozen=True, slots=True)
class ExcludedDevices:
    """``[sriov_nic] exclude_devices``: VFs of a PF that the agent must leave alone."""

    entries: tuple[tuple[str, frozenset[PciAddress]], ...] = ()

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(device for device, _ in self.entries)

    def of(self, device: str) -> frozenset[PciAddress]:
        return next((vfs for d, vfs in self.entries if d == device), frozenset())

    def excludes(self, device: str | None, address: PciAddress) -> bool:
        return device is not None and address in self.of(device)


def parse_exclude_devices(value: ListValue, *, where: str = "exclude_devices") -> ExcludedDevices:
    """``enp3s0f1:0000:04:10.1;0000:04:10.3``: ``;`` separates VFs, as ``,`` separates PFs."""
    excluded: dict[str, frozenset[PciAddress]] = {}
    for entry in split_list(value, where=where):
        # Split on the first ':' only: the PCI addresses after it hold colons too.
        device, sep, rest = entry.partition(":")
        if not sep:
            raise InvalidInput(where, "each entry must be device:address[;address...]", entry)
        device = device.strip()
        if not device:
            raise InvalidInput(where, "an entry is missing its device (the key)", entry)
        if device in excluded:
            raise InvalidInput(where, f"device {device} is named twice; give it one entry", entry)
        # Neutron keeps the addresses as text and compares strings, so "04:10.1" or an
        # upper-case address silently excludes nothing; they are parsed and checked here.
        excluded[device] = frozenset(
            PciAddress.parse(slot.strip(), f"{where} ({device})")
            for slot in rest.split(";")
            if slot.strip()
        )
    return ExcludedDevices(tuple(excluded.items()))


@dataclass(frozen=True, slots=True)
class SriovAgentConfig:
    """What the SR-IOV NIC agent of one host serves: mapped PFs' VFs, minus the excluded ones."""

    device_mappings: DeviceMappings = DeviceMappings()
    exclude_devices: ExcludedDevices = ExcludedDevices()

    def __post_init__(self) -> None:
        mapped = set(self.device_mappings.devices)
        for device in self.exclude_devices.devices:
            if device not in mapped:
                raise InvalidInput(
                    "exclude_devices",
                    f"device {device} is not in physical_device_mappings",
                    device,
                )


@dataclass(frozen=True, slots=True)
class VendorDevs:
    """``[ml2_sriov] supported_pci_vendor_devs`` (talk era, removed in Ocata): bindable IDs."""

    pairs: tuple[tuple[int, int], ...] = ()

    def allows(self, vendor_id: int, product_id: int) -> bool:
        return (vendor_id, product_id) in self.pairs

    def __str__(self) -> str:
        return ", ".join(f"{v:04x}:{p:04x}" for v, p in self.pairs)


def parse_vendor_devs(value: ListValue, *, where: str = "supported_pci_vendor_devs") -> VendorDevs:
    """``8086:1528, 8086:1515``: vendor:product pairs as Nova reports ``pci_vendor_info``."""
    pairs: list[tuple[int, int]] = []
    for entry in split_list(value, where=where):
        parts = entry.split(":")
        if len(parts) != 2:
            raise InvalidInput(where, "each entry must be vendor_id:product_id", entry)
        vendor, product = parts[0].strip(), parts[1].strip()
        if not vendor:
            raise InvalidInput(where, "an entry is missing its vendor_id", entry)
        if not product:
            raise InvalidInput(where, "an entry is missing its product_id", entry)
        # Neutron compared the text with Nova's "%04x:%04x"; anything else never matched.
        if not (_is_hex4(vendor) and _is_hex4(product)):
            raise InvalidInput(where, "IDs must be 4 hex digits each, e.g. 8086:1515", entry)
        pair = (int(vendor, 16), int(product, 16))
        if pair not in pairs:
            pairs.append(pair)
    return VendorDevs(tuple(pairs))


def _is_hex4(text: str) -> bool:
    return len(text) == 4 and all(c in "0123456789abcdefABCDEF" for c in text)


@dataclass(frozen=True, slots=True, order=True)
class VlanRange:
    """VLAN IDs ``first`` to ``last``, both included."""

    first: int
    last: int

    def __post_init__(self) -> None:
        for tag in (self.first, self.last):
            if not MIN_VLAN <= tag <= MAX_VLAN:
                raise InvalidInput(
                    "VLAN range",
                    f"{tag} is not a valid VLAN tag ({MIN_VLAN}..{MAX_VLAN})",
                    str(self),
                )
        if self.last < self.first:
            raise InvalidInput(
                "VLAN range", "the end of the range is less than its start", str(self)
            )

    def __contains__(self, vlan: object) -> bool:
        return isinstance(vlan, int) and self.first <= vlan <= self.last

    def __len__(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        return f"{self.first}:{self.last}"


@dataclass(frozen=True, slots=True)
class NetworkVlanRanges:
    """``[ml2_type_vlan] network_vlan_ranges``: each physnet with its tenant VLAN ranges.

    A physnet without ranges is usable for provider networks only.
    """

    entries: tuple[tuple[str, tuple[VlanRange, ...]], ...] = ()

    @property
    def physnets(self) -> tuple[str, ...]:
        return tuple(physnet for physnet, _ in self.entries)

    def ranges_of(self, physnet: str) -> tuple[VlanRange, ...]:
        return next((ranges for p, ranges in self.entries if p == physnet), ())

    def allows(self, physnet: str, vlan: int) -> bool:
        """Whether ``vlan`` is a tenant VLAN of ``physnet``."""
        return any(vlan in r for r in self.ranges_of(physnet))

    def __str__(self) -> str:
        return ",".join(
            f"{p}:{r}" if ranges else p for p, ranges in self.entries for r in ranges or (None,)
        )


def parse_vlan_range(text: str, *, where: str = "VLAN range") -> VlanRange:
    """``3001:4000``: two VLAN IDs, 1..4094, the first not above the second."""
    parts = text.split(":")
    if len(parts) != 2:
        raise InvalidInput(where, "need exactly two values for a VLAN range, as first:last", text)
    bounds = []
    for part in parts:
        try:
            bounds.append(int(part))
        except ValueError:
            raise InvalidInput(where, f"{part!r} is not a valid VLAN tag", text) from None
    try:
        return VlanRange(bounds[0], bounds[1])
    except InvalidInput as exc:
        raise InvalidInput(where, exc.rule, text) from None


def parse_network_vlan_ranges(
    value: ListValue, *, where: str = "network_vlan_ranges"
) -> NetworkVlanRanges:
    """``physnet1:3001:4000,physnet2``: entries are ``physnet`` or ``physnet:first:last``."""
    networks: dict[str, list[VlanRange]] = {}
    for entry in split_list(value, where=where):
        physnet, sep, span = entry.partition(":")
        physnet = physnet.strip()
        if sep and span.count(":") != 1:
            raise InvalidInput(
                where, "need exactly two values for a VLAN range, as physnet:first:last", entry
            )
        if not physnet:
            raise InvalidInput(where, "empty physical network name", entry)
        ranges = networks.setdefault(physnet, [])
        if sep:
            ranges.append(parse_vlan_range(span, where=where))
    return NetworkVlanRanges(tuple((p, tuple(r)) for p, r in networks.items()))


def devstack_vlan_ranges(
    physical_network: str | None, tenant_vlan_range: str | None
) -> NetworkVlanRanges:
    """DevStack's ``PHYSICAL_NETWORK`` + ``TENANT_VLAN_RANGE``, as it writes them for ML2."""
    if not physical_network:
        if tenant_vlan_range:
            # DevStack quietly drops the range without a physnet; say so instead.
            raise InvalidInput(
                "TENANT_VLAN_RANGE", "needs PHYSICAL_NETWORK to say which physnet it belongs to"
            )
        return NetworkVlanRanges()
    text = f"{physical_network}:{tenant_vlan_range}" if tenant_vlan_range else physical_network
    return parse_network_vlan_ranges(text, where="TENANT_VLAN_RANGE")
