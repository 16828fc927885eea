"""libvirt domain XML for a guest spec, and the spec read back from what libvirt holds."""

from __future__ import annotations

import math
import uuid as _uuid
import xml.etree.ElementTree as ET
from typing import TypeVar

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput, SriovstackError
from sriovstack.virt.guests import GuestNic, GuestSpec, NicKind

# Each NIC's device carries the user alias ua-<port ID>: it names the device for detach and
# tells which port it is when read back. A whole PF has no <mac> in libvirt, so its port's MAC
# travels in sriovstack's <metadata> element, which also marks the domains sriovstack made:
# every other domain on the host is left alone.
NAMESPACE = "https://sriovstack.dev/xmlns/libvirt/guest/1"
PREFIX = "sriovstack"
IMAGES = "/var/lib/sriovstack/images"
_META = f"{{{NAMESPACE}}}guest"
_META_PORT = f"{{{NAMESPACE}}}port"
# Serialise sriovstack's elements as sriovstack:..., not ns0:..., as libvirt shows them.
ET.register_namespace(PREFIX, NAMESPACE)

_UNIT_BYTES = {
    "b": 1,
    "bytes": 1,
    "kb": 1000,
    "k": 1024,
    "kib": 1024,
    "mb": 1000**2,
    "m": 1024**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "g": 1024**3,
    "gib": 1024**3,
    "tb": 1000**4,
    "t": 1024**4,
    "tib": 1024**4,
}
_MIB = 1024**2
_T = TypeVar("_T")


def domain_xml(spec: GuestSpec) -> str:
    """The libvirt domain that runs ``spec`` under KVM, one device per NIC."""
    domain = ET.Element("domain", type="kvm")
    ET.SubElement(domain, "name").text = spec.name
    ET.SubElement(domain, "uuid").text = spec.uuid
    ET.SubElement(domain, "metadata").append(_metadata(spec, f"{{{NAMESPACE}}}"))
    ET.SubElement(domain, "memory", unit="MiB").text = str(spec.memory_mib)
    ET.SubElement(domain, "vcpu").text = str(spec.vcpus)
    ET.SubElement(ET.SubElement(domain, "os"), "type").text = "hvm"
    features = ET.SubElement(domain, "features")
    # Hot-unplugging a VF (detach, live migration) needs the guest's ACPI to take part.
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    devices = ET.SubElement(domain, "devices")
    disk = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type="qcow2")
    ET.SubElement(disk, "source", file=f"{IMAGES}/{spec.uuid}.qcow2")
    ET.SubElement(disk, "target", dev="vda", bus="virtio")
    for nic in spec.nics:
        devices.append(nic_element(nic))
    ET.SubElement(ET.SubElement(devices, "serial", type="pty"), "target", port="0")
    ET.SubElement(ET.SubElement(devices, "console", type="pty"), "target", type="serial", port="0")
    return _text(domain)


def nic_xml(nic: GuestNic) -> str:
    """The device XML of one NIC, as libvirt's attach and detach calls take it."""
    return _text(nic_element(nic))


def metadata_xml(spec: GuestSpec) -> str:
    """sriovstack's metadata for ``spec`` without its namespace, as libvirt's setMetadata takes it.

    libvirt puts the element into the namespace given alongside it.
    """
    return _text(_metadata(spec, ""))


def _metadata(spec: GuestSpec, namespace: str) -> ET.Element:
    meta = ET.Element(f"{namespace}guest")
    for nic in spec.nics:
        if nic.kind is NicKind.HOSTDEV_PF:
            ET.SubElement(meta, f"{namespace}port", id=nic.port_id, mac=str(nic.mac))
    return meta


def nic_element(nic: GuestNic) -> ET.Element:
    """One NIC's libvirt device (nova-pci.md §1.4 for which device each vnic type gets)."""
    if nic.kind is NicKind.HOSTDEV_PF:
        device = ET.Element("hostdev", mode="subsystem", type="pci", managed="yes")
        # A plain hostdev's source address has no type attribute; libvirt's schema refuses one.
        _pci_source(device, _required(nic.pci_address), typed=False)
        ET.SubElement(device, "alias", name=nic.alias)
        return device
    if nic.kind is NicKind.HOSTDEV:
        # libvirt sets the VF's admin MAC and VLAN through the PF before the guest gets it.
        device = ET.Element("interface", type="hostdev", managed="yes")
        ET.SubElement(device, "mac", address=str(nic.mac))
        _pci_source(device, _required(nic.pci_address))
    elif nic.kind is NicKind.MACVTAP:
        device = ET.Element("interface", type="direct")
        ET.SubElement(device, "mac", address=str(nic.mac))
        ET.SubElement(device, "source", dev=_required(nic.source_dev), mode="passthrough")
        ET.SubElement(device, "model", type="virtio")
    else:
        device = ET.Element("interface", type="bridge")
        ET.SubElement(device, "mac", address=str(nic.mac))
        ET.SubElement(device, "source", bridge=_required(nic.bridge))
        port = ET.SubElement(device, "virtualport", type="openvswitch")
        if _is_uuid(nic.port_id):
            # OVS's external_ids:iface-id, by which Neutron's OVS agent finds the port.
            ET.SubElement(port, "parameters", interfaceid=nic.port_id)
        ET.SubElement(device, "model", type="virtio")
    if nic.vlan is not None:
        # libvirt tags in the VF (hostdev, macvtap passthrough) or on the OVS port.
        ET.SubElement(ET.SubElement(device, "vlan"), "tag", id=str(nic.vlan))
    ET.SubElement(device, "alias", name=nic.alias)
    return device


def _pci_source(device: ET.Element, address: PciAddress, *, typed: bool = True) -> None:
    ET.SubElement(
        ET.SubElement(device, "source"),
        "address",
        {"type": "pci"} if typed else {},
        domain=f"0x{address.domain:04x}",
        bus=f"0x{address.bus:02x}",
        slot=f"0x{address.device:02x}",
        function=f"0x{address.function:x}",
    )


def _required(value: _T | None) -> _T:
    assert value is not None  # GuestNic refuses a NIC without the field its kind needs
    return value


def _is_uuid(text: str) -> bool:
    try:
        return str(_uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _text(element: ET.Element) -> str:
    ET.indent(element)
    return ET.tostring(element, encoding="unicode")


# -- reading back ---------------------------------------------------------------------------


def is_sriovstack_domain(text: str) -> bool:
    """Whether a domain carries sriovstack's metadata, i.e. sriovstack defined it."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return False
    return root.find(f"metadata/{_META}") is not None


def parse_domain_xml(text: str) -> GuestSpec:
    """The spec of a domain sriovstack defined, from its XML as libvirt returns it.

    libvirt adds what it fills in (addresses, targets, ``currentMemory``, memory in KiB); that
    is ignored. A NIC sriovstack cannot have made is refused with the element named.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InvalidInput("domain xml", f"is not well-formed XML: {exc}") from None
    if root.tag != "domain":
        raise InvalidInput("domain xml", "the root element must be <domain>", root.tag)
    pf_macs = _pf_macs(root)
    nics: list[GuestNic] = []
    devices = root.find("devices")
    seen: dict[str, int] = {}
    for device in devices if devices is not None else ():
        seen[device.tag] = seen.get(device.tag, 0) + 1
        where = f"devices/{device.tag}[{seen[device.tag]}]"  # as XPath counts: from 1, per tag
        if device.tag == "interface":
            nics.append(_nic_from_interface(device, where))
        elif device.tag == "hostdev" and device.get("type") == "pci":
            nics.append(_nic_from_hostdev(device, where, pf_macs))
    uuid = _child_text(root, "uuid")
    name = _child_text(root, "name")
    vcpus = _int(_child_text(root, "vcpu"), "domain xml vcpu")
    memory_mib = _memory_mib(root)
    try:
        return GuestSpec(uuid, name, vcpus, memory_mib, tuple(nics))
    except InvalidInput as exc:
        raise InvalidInput(f"domain xml {exc.field}", exc.rule, exc.value) from None


def _nic_from_interface(device: ET.Element, where: str) -> GuestNic:
    kind_of = {"hostdev": NicKind.HOSTDEV, "direct": NicKind.MACVTAP, "bridge": NicKind.BRIDGE}
    kind = kind_of.get(device.get("type", ""))
    if kind is None:
        raise InvalidInput(
            where,
            "sriovstack makes interfaces of type hostdev, direct or bridge only",
            device.get("type"),
        )
    mac = device.find("mac")
    source = device.find("source")
    if mac is None or source is None:
        raise InvalidInput(where, "an interface needs <mac> and <source>")
    pci = source.find("address") if kind is NicKind.HOSTDEV else None
    if kind is NicKind.MACVTAP and source.get("mode") != "passthrough":
        raise InvalidInput(
            f"{where}/source", "macvtap must be in passthrough mode", source.get("mode")
        )
    return GuestNic(
        port_id=_port_id(device, where),
        mac=MacAddress.parse(mac.get("address", ""), f"{where}/mac"),
        kind=kind,
        pci_address=_pci_address(pci, f"{where}/source/address") if pci is not None else None,
        vlan=_vlan(device, where),
        source_dev=source.get("dev") if kind is NicKind.MACVTAP else None,
        bridge=source.get("bridge") if kind is NicKind.BRIDGE else None,
    )


def _nic_from_hostdev(device: ET.Element, where: str, pf_macs: dict[str, MacAddress]) -> GuestNic:
    port_id = _port_id(device, where)
    address = device.find("source/address")
    if address is None:
        raise InvalidInput(f"{where}/source/address", "a PCI hostdev needs its address")
    mac = pf_macs.get(port_id)
    if mac is None:
        raise InvalidInput(
            f"metadata/{PREFIX}:guest", f"has no MAC for port {port_id} (a whole PF)"
        )
    return GuestNic(
        port_id=port_id,
        mac=mac,
        kind=NicKind.HOSTDEV_PF,
        pci_address=_pci_address(address, f"{where}/source/address"),
    )


def _pf_macs(root: ET.Element) -> dict[str, MacAddress]:
    macs: dict[str, MacAddress] = {}
    for port in root.iterfind(f"metadata/{_META}/{_META_PORT}"):
        macs[port.get("id", "")] = MacAddress.parse(port.get("mac", ""), f"{PREFIX}:port/mac")
    return macs


def _port_id(device: ET.Element, where: str) -> str:
    alias = device.find("alias")
    name = alias.get("name", "") if alias is not None else ""
    if not name.startswith("ua-"):
        raise InvalidInput(
            f"{where}/alias", "must be the port's user alias ua-<port ID>", name or None
        )
    return name[3:]


def _vlan(device: ET.Element, where: str) -> int | None:
    tags = device.findall("vlan/tag")
    if not tags:
        return None
    if len(tags) > 1:
        raise InvalidInput(f"{where}/vlan", "sriovstack gives a NIC one VLAN tag, not a trunk")
    return _int(tags[0].get("id", ""), f"{where}/vlan/tag/id")


def _pci_address(element: ET.Element, where: str) -> PciAddress:
    try:
        return PciAddress(
            domain=_int(element.get("domain", "0"), where, base=0),
            bus=_int(element.get("bus", ""), where, base=0),
            device=_int(element.get("slot", ""), where, base=0),
            function=_int(element.get("function", ""), where, base=0),
        )
    except SriovstackError:
        raise InvalidInput(
            where, "must be a PCI address", ET.tostring(element, "unicode")
        ) from None


def _memory_mib(root: ET.Element) -> int:
    memory = root.find("memory")
    if memory is None or memory.text is None:
        raise InvalidInput("domain xml memory", "is missing")
    unit = memory.get("unit", "KiB").lower()
    if unit not in _UNIT_BYTES:
        raise InvalidInput("domain xml memory", "has a unit libvirt does not know", unit)
    return math.ceil(_int(memory.text, "domain xml memory") * _UNIT_BYTES[unit] / _MIB)


def _child_text(root: ET.Element, tag: str) -> str:
    text = root.findtext(tag)
    if text is None:
        raise InvalidInput(f"domain xml {tag}", "is missing")
    return text.strip()


def _int(text: str, where: str, *, base: int = 10) -> int:
    try:
        return int(text.strip(), base)
    except ValueError:
        raise InvalidInput(where, "must be a number", text) from None
