"""LibvirtHypervisor against libvirt's test driver (``test:///default``), in this process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import Conflict, NotFound, SriovstackError
from sriovstack.virt.guests import Guest, GuestNic, GuestSpec, NicKind, PowerState
from sriovstack.virt.hypervisor import Hypervisor, HypervisorError
from sriovstack.virt.libvirt import LibvirtHypervisor

# The test driver keeps domains in memory and runs nothing: it defines, starts and stops guests
# and keeps their XML, but cannot pass PCI devices through or hotplug, so hotplug comes back as a
# libvirt error, which is what the translation test needs. The binding is an extra that needs
# libvirt-dev and pkg-config to build.
libvirt = pytest.importorskip(
    "libvirt", reason="the libvirt binding is not installed: pip install 'sriovstack[libvirt]'"
)

URI = "test:///default"
OVS_PORT = "8d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f40"


def bridged(port: str = OVS_PORT, last: int = 0x23) -> GuestNic:
    mac = MacAddress.parse(f"fa:16:3e:3c:9b:{last:02x}")
    return GuestNic(port, mac, NicKind.BRIDGE, bridge="br-enp3s0f0")


@pytest.fixture
def hv() -> Iterator[LibvirtHypervisor]:
    hypervisor = LibvirtHypervisor(URI)
    yield hypervisor
    # The default test driver is shared by the whole process: leave none of ours behind.
    for guest in hypervisor.guests():
        hypervisor.destroy(guest.uuid)
    hypervisor.close()


@pytest.fixture
def spec() -> GuestSpec:
    """A fresh guest per test: the test driver's state outlives each connection."""
    name = f"vm-{uuid.uuid4().hex[:8]}"
    return GuestSpec(str(uuid.uuid4()), name, 2, 1024, (bridged(),))


def test_it_is_a_hypervisor(hv: LibvirtHypervisor) -> None:
    seam: Hypervisor = hv
    assert seam.guests() == []


def test_start_defines_and_runs_a_guest_that_reads_back_as_its_spec(
    hv: LibvirtHypervisor, spec: GuestSpec
) -> None:
    guest = hv.start(spec)
    assert guest == Guest(spec, PowerState.RUNNING)
    assert hv.guest(spec.uuid) == guest
    assert hv.guests() == [guest]


def test_domains_sriovstack_did_not_define_are_invisible(hv: LibvirtHypervisor) -> None:
    conn = libvirt.open(URI)
    try:
        foreign = conn.lookupByName("test")  # the test driver's own domain
        assert foreign.isActive()
        assert hv.guest(foreign.UUIDString()) is None
        assert hv.guests() == []
        hv.destroy(foreign.UUIDString())  # not sriovstack's: left alone
        assert foreign.isActive()
        clash = GuestSpec(foreign.UUIDString(), "clash", 1, 512)
        with pytest.raises(Conflict, match="not defined by sriovstack"):
            hv.start(clash)
    finally:
        conn.close()


def test_start_is_idempotent_and_refuses_another_spec(
    hv: LibvirtHypervisor, spec: GuestSpec
) -> None:
    first = hv.start(spec)
    assert hv.start(spec) == first
    bigger = GuestSpec(spec.uuid, spec.name, 4, 1024, spec.nics)
    with pytest.raises(Conflict, match="exists with another spec"):
        hv.start(bigger)


def test_a_taken_name_is_a_conflict(hv: LibvirtHypervisor, spec: GuestSpec) -> None:
    with pytest.raises(Conflict, match="the name 'test' is taken by domain"):
        hv.start(GuestSpec(spec.uuid, "test", 1, 512))
    assert hv.guest(spec.uuid) is None


def test_destroy_stops_and_forgets_and_is_idempotent(
    hv: LibvirtHypervisor, spec: GuestSpec
) -> None:
    hv.start(spec)
    hv.destroy(spec.uuid)
    assert hv.guest(spec.uuid) is None
    hv.destroy(spec.uuid)  # twice: libvirt says "no domain", which is what we wanted
    hv.destroy(str(uuid.uuid4()))


def test_power_off_and_on(hv: LibvirtHypervisor, spec: GuestSpec) -> None:
    hv.start(spec)
    hv.power_off(spec.uuid)
    assert hv.guest(spec.uuid) == Guest(spec, PowerState.SHUTDOWN)
    hv.power_off(spec.uuid)
    hv.power_on(spec.uuid)
    assert hv.guest(spec.uuid) == Guest(spec, PowerState.RUNNING)
    hv.power_on(spec.uuid)
    # A stopped guest starts again through start() too.
    hv.power_off(spec.uuid)
    assert hv.start(spec).power_state is PowerState.RUNNING


def test_a_paused_guest_is_resumed_by_power_on(hv: LibvirtHypervisor, spec: GuestSpec) -> None:
    hv.start(spec)
    conn = libvirt.open(URI)
    try:
        conn.lookupByUUIDString(spec.uuid).suspend()
        assert hv.guest(spec.uuid) == Guest(spec, PowerState.PAUSED)
        hv.power_on(spec.uuid)
        assert hv.guest(spec.uuid) == Guest(spec, PowerState.RUNNING)
    finally:
        conn.close()


def test_every_nic_kind_reads_back_from_libvirt_as_it_was_given(
    hv: LibvirtHypervisor, spec: GuestSpec
) -> None:
    vf = GuestNic(
        "vf-port",
        MacAddress.parse("fa:16:3e:3c:9b:21"),
        NicKind.HOSTDEV,
        pci_address=PciAddress.parse("0000:04:10.1"),
        vlan=2010,
    )
    pf = GuestNic(
        "pf-port",
        MacAddress.parse("a0:36:9f:3c:9b:00"),
        NicKind.HOSTDEV_PF,
        pci_address=PciAddress.parse("0000:03:00.0"),
    )
    macvtap = GuestNic(
        "mv-port",
        MacAddress.parse("fa:16:3e:3c:9b:22"),
        NicKind.MACVTAP,
        source_dev="enp4s16f1",
        vlan=2010,
    )
    every = GuestSpec(spec.uuid, spec.name, 1, 2048, (pf, vf, bridged(), macvtap))
    # The test driver keeps the devices (it passes nothing through): what it hands back, in
    # its own order and units and with its own additions, is the spec again.
    assert hv.start(every) == Guest(every, PowerState.RUNNING)
    assert hv.guest(spec.uuid) == Guest(every, PowerState.RUNNING)
    assert hv.start(every).spec == every


def test_missing_guests_are_not_found(hv: LibvirtHypervisor) -> None:
    missing = str(uuid.uuid4())
    assert hv.guest(missing) is None
    for call in (hv.power_on, hv.power_off):
        with pytest.raises(NotFound, match=f"guest {missing} not found"):
            call(missing)
    with pytest.raises(NotFound):
        hv.attach_nic(missing, bridged())
    with pytest.raises(NotFound):
        hv.detach_nic(missing, OVS_PORT)


def test_a_libvirt_error_comes_back_as_a_hypervisor_error(
    hv: LibvirtHypervisor, spec: GuestSpec
) -> None:
    hv.start(spec)
    with pytest.raises(HypervisorError) as caught:
        hv.attach_nic(spec.uuid, bridged("second", 0x24))  # the test driver cannot hotplug
    error = caught.value
    assert error.operation == f"attach_nic {spec.uuid}"
    assert "not supported" in error.reason
    assert not isinstance(error, libvirt.libvirtError)
    assert isinstance(error.__cause__, libvirt.libvirtError)  # kept for the log, not raised


def test_attaching_the_nic_already_plugged_asks_libvirt_nothing(
    hv: LibvirtHypervisor, spec: GuestSpec
) -> None:
    hv.start(spec)
    hv.attach_nic(spec.uuid, spec.nics[0])  # no hotplug call, so no "not supported"
    hv.detach_nic(spec.uuid, "never-plugged")
    with pytest.raises(Conflict, match="plugged into guest"):
        hv.attach_nic(spec.uuid, bridged(last=0x99))


def test_a_bad_uri_is_a_hypervisor_error() -> None:
    hv = LibvirtHypervisor("nosuchdriver:///nowhere")
    with pytest.raises(HypervisorError) as caught:
        hv.guests()
    assert caught.value.operation == "connect"
    assert isinstance(caught.value, SriovstackError)
