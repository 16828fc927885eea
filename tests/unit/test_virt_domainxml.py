"""libvirt domain XML: one device per NIC kind, read back to the same spec, bad XML refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.virt.domainxml import (
    NAMESPACE,
    domain_xml,
    is_sriovstack_domain,
    metadata_xml,
    nic_xml,
    parse_domain_xml,
)
from sriovstack.virt.guests import GuestNic, GuestSpec, NicKind

# The talk's Instance-1: m1.small (1 vCPU, 2 GiB) with a VF of enp3s0f1 on physnet1's VLAN 2010.
INSTANCE_1 = "fe972329-0666-4160-9950-e1f6f79146c5"
VF_PORT = "3a7c1e5f-9d42-4b1e-8f0a-6c2d9e4b7a10"
VF_NIC = GuestNic(
    port_id=VF_PORT,
    mac=MacAddress.parse("fa:16:3e:3c:9b:21"),
    kind=NicKind.HOSTDEV,
    pci_address=PciAddress.parse("0000:04:10.1"),
    vlan=2010,
)
MACVTAP_NIC = GuestNic(
    port_id="macvtap-1",
    mac=MacAddress.parse("fa:16:3e:3c:9b:22"),
    kind=NicKind.MACVTAP,
    source_dev="enp4s16f1",
    vlan=2010,
)
PF_NIC = GuestNic(
    port_id="pf-1",
    mac=MacAddress.parse("a0:36:9f:3c:9b:00"),
    kind=NicKind.HOSTDEV_PF,
    pci_address=PciAddress.parse("0000:03:00.0"),
)
OVS_PORT = "8d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f40"
OVS_NIC = GuestNic(
    port_id=OVS_PORT,
    mac=MacAddress.parse("fa:16:3e:3c:9b:23"),
    kind=NicKind.BRIDGE,
    bridge="br-enp3s0f0",
)


def spec(*nics: GuestNic) -> GuestSpec:
    return GuestSpec(INSTANCE_1, "Instance-1", 1, 2048, nics)


def parsed(*nics: GuestNic) -> ET.Element:
    return ET.fromstring(domain_xml(spec(*nics)))


def only(root: ET.Element, path: str) -> ET.Element:
    found = root.findall(path)
    assert len(found) == 1, f"{path}: {len(found)} elements"
    return found[0]


def test_the_domain_is_a_kvm_guest_with_a_disk_and_a_serial_console() -> None:
    root = parsed()
    assert root.tag == "domain" and root.get("type") == "kvm"
    assert root.findtext("name") == "Instance-1"
    assert root.findtext("uuid") == INSTANCE_1
    memory = only(root, "memory")
    assert (memory.get("unit"), memory.text) == ("MiB", "2048")
    assert root.findtext("vcpu") == "1"
    assert root.findtext("os/type") == "hvm"
    assert root.find("features/acpi") is not None
    disk = only(root, "devices/disk")
    assert (disk.get("type"), disk.get("device")) == ("file", "disk")
    assert only(disk, "source").get("file") == f"/var/lib/sriovstack/images/{INSTANCE_1}.qcow2"
    assert only(disk, "target").attrib == {"dev": "vda", "bus": "virtio"}
    assert only(root, "devices/serial").get("type") == "pty"
    assert only(root, "devices/console/target").attrib == {"type": "serial", "port": "0"}
    assert is_sriovstack_domain(domain_xml(spec()))


def test_instance_1_gets_its_vf_as_a_hostdev_interface_with_mac_and_vlan() -> None:
    interface = only(parsed(VF_NIC), "devices/interface")
    assert interface.attrib == {"type": "hostdev", "managed": "yes"}
    assert only(interface, "mac").get("address") == "fa:16:3e:3c:9b:21"
    assert only(interface, "source/address").attrib == {
        "type": "pci",
        "domain": "0x0000",
        "bus": "0x04",
        "slot": "0x10",
        "function": "0x1",
    }
    assert only(interface, "vlan/tag").get("id") == "2010"
    assert only(interface, "alias").get("name") == f"ua-{VF_PORT}"
    assert interface.find("model") is None  # the guest sees the VF itself, not a virtio NIC


def test_an_untagged_vf_has_no_vlan_element() -> None:
    untagged = GuestNic(VF_PORT, VF_NIC.mac, NicKind.HOSTDEV, pci_address=VF_NIC.pci_address)
    assert parsed(untagged).find("devices/interface/vlan") is None


def test_macvtap_is_a_direct_interface_in_passthrough_mode_on_the_vf_netdev() -> None:
    interface = only(parsed(MACVTAP_NIC), "devices/interface")
    assert interface.attrib == {"type": "direct"}
    assert only(interface, "source").attrib == {"dev": "enp4s16f1", "mode": "passthrough"}
    assert only(interface, "mac").get("address") == "fa:16:3e:3c:9b:22"
    assert only(interface, "model").get("type") == "virtio"
    assert only(interface, "vlan/tag").get("id") == "2010"


def test_a_whole_pf_is_a_plain_pci_hostdev_and_its_mac_goes_in_metadata() -> None:
    root = parsed(PF_NIC)
    assert root.find("devices/interface") is None
    hostdev = only(root, "devices/hostdev")
    assert hostdev.attrib == {"mode": "subsystem", "type": "pci", "managed": "yes"}
    # A plain hostdev's source address has no type attribute (libvirt's schema).
    assert only(hostdev, "source/address").attrib == {
        "domain": "0x0000",
        "bus": "0x03",
        "slot": "0x00",
        "function": "0x0",
    }
    assert only(hostdev, "alias").get("name") == "ua-pf-1"
    port = only(root, f"metadata/{{{NAMESPACE}}}guest/{{{NAMESPACE}}}port")
    assert port.attrib == {"id": "pf-1", "mac": "a0:36:9f:3c:9b:00"}


def test_a_normal_port_is_a_virtio_nic_on_the_ovs_bridge() -> None:
    interface = only(parsed(OVS_NIC), "devices/interface")
    assert interface.attrib == {"type": "bridge"}
    assert only(interface, "source").get("bridge") == "br-enp3s0f0"
    assert only(interface, "virtualport").get("type") == "openvswitch"
    # OVS's iface-id: how Neutron's OVS agent recognises the port.
    assert only(interface, "virtualport/parameters").get("interfaceid") == OVS_PORT
    assert only(interface, "model").get("type") == "virtio"
    assert only(interface, "mac").get("address") == "fa:16:3e:3c:9b:23"


def test_a_bridge_port_not_named_by_uuid_has_no_interfaceid() -> None:
    named = GuestNic("uplink", OVS_NIC.mac, NicKind.BRIDGE, bridge="br-int")
    assert parsed(named).find("devices/interface/virtualport/parameters") is None


def test_devices_come_in_the_order_of_the_nics_whole_pfs_last_as_libvirt_lists_them() -> None:
    root = parsed(OVS_NIC, PF_NIC, VF_NIC, MACVTAP_NIC)
    aliases = [a.get("name") for a in root.iterfind("devices/*/alias")]
    assert aliases == [f"ua-{OVS_PORT}", f"ua-{VF_PORT}", "ua-macvtap-1", "ua-pf-1"]


def test_values_are_escaped_by_the_xml_writer_not_formatted_in() -> None:
    sneaky = GuestSpec(INSTANCE_1, "a<b>&'\"c", 1, 2048)
    root = ET.fromstring(domain_xml(sneaky))
    assert root.findtext("name") == "a<b>&'\"c"
    assert parse_domain_xml(domain_xml(sneaky)) == sneaky


@pytest.mark.parametrize(
    "nics",
    [
        (),
        (VF_NIC,),
        (MACVTAP_NIC,),
        (PF_NIC,),
        (OVS_NIC,),
        (OVS_NIC, PF_NIC, VF_NIC, MACVTAP_NIC),
    ],
    ids=["none", "hostdev", "macvtap", "hostdev-pf", "bridge", "all"],
)
def test_the_xml_reads_back_to_the_same_spec(nics: tuple[GuestNic, ...]) -> None:
    original = spec(*nics)
    assert parse_domain_xml(domain_xml(original)) == original


# What libvirt hands back for Instance-1 after define and start: memory in KiB, its own
# additions (ids, targets, guest PCI addresses, a clock) and its own attribute quoting.
LIBVIRT_SAYS = f"""
<domain type='kvm' id='7'>
  <name>Instance-1</name>
  <uuid>{INSTANCE_1}</uuid>
  <metadata>
    <sriovstack:guest xmlns:sriovstack="{NAMESPACE}"/>
  </metadata>
  <memory unit='KiB'>2097152</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type><boot dev='hd'/></os>
  <clock offset='utc'/>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <source file='/var/lib/sriovstack/images/{INSTANCE_1}.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='hostdev' managed='yes'>
      <mac address='fa:16:3e:3c:9b:21'/>
      <driver name='vfio'/>
      <source>
        <address type='pci' domain='0x0000' bus='0x04' slot='0x10' function='0x1'/>
      </source>
      <vlan><tag id='2010'/></vlan>
      <alias name='ua-{VF_PORT}'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <serial type='pty'><source path='/dev/pts/3'/><target port='0'/></serial>
    <memballoon model='virtio'/>
  </devices>
</domain>
"""


def test_what_libvirt_hands_back_reads_as_the_spec_it_was_given() -> None:
    assert parse_domain_xml(LIBVIRT_SAYS) == spec(VF_NIC)


@pytest.mark.parametrize(
    ("unit", "amount"),
    [("KiB", "2097152"), ("k", "2097152"), ("MiB", "2048"), ("GiB", "2"), ("bytes", str(2**31))],
)
def test_memory_reads_back_in_mib_whatever_the_unit(unit: str, amount: str) -> None:
    text = LIBVIRT_SAYS.replace("unit='KiB'>2097152</memory>", f"unit='{unit}'>{amount}</memory>")
    assert parse_domain_xml(text).memory_mib == 2048


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("<interface type='hostdev'", "<interface type='network'", "devices/interface[1]"),
        (f"ua-{VF_PORT}", "hostdev0", "devices/interface[1]/alias"),
        (
            "<vlan><tag id='2010'/></vlan>",
            "<vlan trunk='yes'><tag id='1'/><tag id='2'/></vlan>",
            "devices/interface[1]/vlan",
        ),
        ("fa:16:3e:3c:9b:21", "fa:16:3e", "devices/interface[1]/mac"),
        ("unit='KiB'>2097152</memory>", "unit='pages'>1</memory>", "domain xml memory"),
        (f"<uuid>{INSTANCE_1}</uuid>", "", "domain xml uuid"),
        ("bus='0x04'", "bus='0xzz'", "devices/interface[1]/source/address"),
    ],
)
def test_a_domain_sriovstack_could_not_have_made_is_refused(old: str, new: str, field: str) -> None:
    assert old in LIBVIRT_SAYS
    with pytest.raises(InvalidInput) as caught:
        parse_domain_xml(LIBVIRT_SAYS.replace(old, new))
    assert caught.value.field == field


def test_a_pf_hostdev_without_its_mac_in_metadata_is_refused() -> None:
    text = domain_xml(spec(PF_NIC)).replace(
        '<sriovstack:port id="pf-1" mac="a0:36:9f:3c:9b:00" />', ""
    )
    with pytest.raises(InvalidInput, match="has no MAC for port pf-1"):
        parse_domain_xml(text)


def test_not_xml_and_not_a_domain_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not well-formed"):
        parse_domain_xml("<domain>")
    with pytest.raises(InvalidInput, match="root element must be <domain>"):
        parse_domain_xml("<network/>")
    assert not is_sriovstack_domain("<domain")


def test_a_domain_without_sriovstack_metadata_is_not_sriovstacks() -> None:
    assert not is_sriovstack_domain("<domain type='kvm'><name>test</name></domain>")


def test_device_xml_for_attach_is_the_nic_element_alone() -> None:
    root = ET.fromstring(nic_xml(VF_NIC))
    assert root.tag == "interface" and root.get("type") == "hostdev"
    assert ET.fromstring(nic_xml(PF_NIC)).tag == "hostdev"


def test_metadata_for_set_metadata_is_unnamespaced() -> None:
    root = ET.fromstring(metadata_xml(spec(PF_NIC, VF_NIC)))
    assert root.tag == "guest"
    assert [p.attrib for p in root] == [{"id": "pf-1", "mac": "a0:36:9f:3c:9b:00"}]
