"""SimulatedHypervisor on the talk's host: guests take VFs as libvirt's managed hostdev does."""

from __future__ import annotations

import json
import re

import pytest
from tests.factories import boot

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import Conflict, InvalidInput, NotFound, VFsInUse
from sriovstack.domain.inventory import VFEntry
from sriovstack.host.inventory import read_pf
from sriovstack.host.provisioning import set_vf_count
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.virt.guests import Guest, GuestNic, GuestSpec, NicKind, PowerState
from sriovstack.virt.hypervisor import Hypervisor
from sriovstack.virt.simulated import SimulatedHypervisor

PF0_ADDRESS = PciAddress.parse("0000:03:00.0")  # enp3s0f0: no VFs, the OVS uplink in the talk
PF1_ADDRESS = PciAddress.parse("0000:03:00.1")  # enp3s0f1: the talk's VFs
VF0 = PciAddress.parse("0000:04:10.1")
VF1 = PciAddress.parse("0000:04:10.3")
INSTANCE_1 = "fe972329-0666-4160-9950-e1f6f79146c5"
INSTANCE_2 = "0b5d6a38-2f41-4c8e-9d1a-7e3f5c2b9a04"
MAC_1 = MacAddress.parse("fa:16:3e:3c:9b:21")
MAC_2 = MacAddress.parse("fa:16:3e:3c:9b:22")


@pytest.fixture
def kernel() -> SimulatedKernel:
    """The talk's host with ixgbevf allowed to load, and 7 VFs on enp3s0f1, all on ixgbevf."""
    host = boot("talk-after", blacklist=frozenset())
    set_vf_count(host, "enp3s0f1", 7)
    return host


@pytest.fixture
def hv(kernel: SimulatedKernel) -> SimulatedHypervisor:
    return SimulatedHypervisor(kernel)


def vf_nic(address: PciAddress = VF0, port: str = "vf-port", mac: MacAddress = MAC_1) -> GuestNic:
    return GuestNic(port, mac, NicKind.HOSTDEV, pci_address=address, vlan=2010)


def instance(uuid: str = INSTANCE_1, name: str = "Instance-1", *nics: GuestNic) -> GuestSpec:
    return GuestSpec(uuid, name, 1, 2048, nics)


INSTANCE_1_SPEC = instance(INSTANCE_1, "Instance-1", vf_nic())


def vf(kernel: SimulatedKernel, address: PciAddress) -> VFEntry:
    return next(v for v in read_pf(kernel, PF1_ADDRESS).vfs if v.address == address)


def mac_of(kernel: SimulatedKernel, address: PciAddress) -> MacAddress:
    config = vf(kernel, address).config
    assert config is not None
    return config.mac


def held_by(kernel: SimulatedKernel, address: PciAddress) -> str | None:
    return kernel.find_vf(address)[1].held_by


def writes(kernel: SimulatedKernel) -> int:
    return kernel.calls.get("write", 0) + kernel.calls.get("set_vf", 0)


def test_it_is_a_hypervisor(hv: SimulatedHypervisor) -> None:
    seam: Hypervisor = hv
    assert seam.guests() == []


# ------------------------------------------------------------------------- start / destroy


def test_a_running_guest_holds_its_vf_on_vfio_pci_with_the_ports_mac_and_vlan(
    hv: SimulatedHypervisor, kernel: SimulatedKernel
) -> None:
    guest = hv.start(INSTANCE_1_SPEC)
    assert guest == Guest(INSTANCE_1_SPEC, PowerState.RUNNING)
    assert hv.guests() == [guest] and hv.guest(INSTANCE_1.upper()) == guest
    entry = vf(kernel, VF0)
    assert (entry.driver, entry.netdev) == ("vfio-pci", None)
    assert held_by(kernel, VF0) == f"guest Instance-1 ({INSTANCE_1})"
    # libvirt's <interface type='hostdev'> programs the VF through the PF before handing it over.
    assert entry.config is not None
    assert (entry.config.mac, entry.config.vlan.vlan) == (MAC_1, 2010)


def test_destroy_gives_the_vf_back_to_ixgbevf_as_it_was(
    hv: SimulatedHypervisor, kernel: SimulatedKernel
) -> None:
    before = vf(kernel, VF0)
    hv.start(INSTANCE_1_SPEC)
    hv.destroy(INSTANCE_1)
    after = vf(kernel, VF0)
    assert (after.driver, after.netdev) == ("ixgbevf", "enp3s0f1v0")
    assert held_by(kernel, VF0) is None
    assert after.config == before.config  # MAC and VLAN restored, as libvirt restores them
    assert hv.guest(INSTANCE_1) is None and hv.guests() == []


def test_destroy_is_idempotent(hv: SimulatedHypervisor, kernel: SimulatedKernel) -> None:
    hv.start(INSTANCE_1_SPEC)
    hv.destroy(INSTANCE_1)
    done = writes(kernel)
    hv.destroy(INSTANCE_1)
    hv.destroy(INSTANCE_2)  # never existed
    assert writes(kernel) == done


def test_starting_the_same_spec_again_changes_nothing(
    hv: SimulatedHypervisor, kernel: SimulatedKernel
) -> None:
    first = hv.start(INSTANCE_1_SPEC)
    done = writes(kernel)
    assert hv.start(INSTANCE_1_SPEC) == first
    assert writes(kernel) == done
    assert held_by(kernel, VF0) == f"guest Instance-1 ({INSTANCE_1})"


def test_another_spec_under_the_same_uuid_is_a_conflict(hv: SimulatedHypervisor) -> None:
    hv.start(INSTANCE_1_SPEC)
    with pytest.raises(Conflict, match="exists with another spec"):
        hv.start(instance(INSTANCE_1, "Instance-1", vf_nic(VF1)))


def test_a_name_is_one_guests(hv: SimulatedHypervisor) -> None:
    hv.start(INSTANCE_1_SPEC)
    with pytest.raises(
        Conflict, match=f"'Instance-1' is taken by guest Instance-1 \\({INSTANCE_1}"
    ):
        hv.start(instance(INSTANCE_2, "Instance-1"))


def test_two_guests_cannot_hold_one_vf(hv: SimulatedHypervisor, kernel: SimulatedKernel) -> None:
    hv.start(INSTANCE_1_SPEC)
    second = instance(INSTANCE_2, "Instance-2", vf_nic(port="other", mac=MAC_2))
    with pytest.raises(Conflict, match=f"0000:04:10.1 is held by guest Instance-1 \\({INSTANCE_1}"):
        hv.start(second)
    assert hv.guest(INSTANCE_2) is None
    assert held_by(kernel, VF0) == f"guest Instance-1 ({INSTANCE_1})"
    assert mac_of(kernel, VF0) == MAC_1


def test_a_vf_held_outside_sriovstack_is_a_conflict_naming_the_holder(
    hv: SimulatedHypervisor, kernel: SimulatedKernel
) -> None:
    hv.start(INSTANCE_1_SPEC)
    other = SimulatedHypervisor(kernel)  # a second hypervisor on the same host, unaware
    done = writes(kernel)
    with pytest.raises(Conflict, match=f"held by guest Instance-1 \\({INSTANCE_1}\\)"):
        other.start(instance(INSTANCE_2, "Instance-2", vf_nic(port="other", mac=MAC_2)))
    assert vf(kernel, VF0).driver == "vfio-pci"  # still the first guest's, untouched
    assert held_by(kernel, VF0) == f"guest Instance-1 ({INSTANCE_1})"
    assert mac_of(kernel, VF0) == MAC_1
    assert writes(kernel) == done


def test_a_start_that_fails_takes_nothing(hv: SimulatedHypervisor, kernel: SimulatedKernel) -> None:
    hv.start(instance(INSTANCE_2, "Instance-2", vf_nic(VF1, port="p2", mac=MAC_2)))
    both = instance(INSTANCE_1, "Instance-1", vf_nic(), vf_nic(VF1, port="p3", mac=MAC_2))
    with pytest.raises(Conflict):
        hv.start(both)
    assert vf(kernel, VF0).driver == "ixgbevf" and held_by(kernel, VF0) is None
    assert hv.guest(INSTANCE_1) is None


def test_a_vf_that_does_not_exist_is_not_found(hv: SimulatedHypervisor) -> None:
    missing = PciAddress.parse("0000:04:12.1")
    with pytest.raises(NotFound, match=re.escape("VF 0000:04:12.1 not found")):
        hv.start(instance(INSTANCE_1, "Instance-1", vf_nic(missing)))


def test_a_running_guests_vf_counts_as_in_use_for_the_host_logic(
    hv: SimulatedHypervisor, kernel: SimulatedKernel
) -> None:
    hv.start(INSTANCE_1_SPEC)
    with pytest.raises(VFsInUse, match="bound to vfio-pci"):
        set_vf_count(kernel, "enp3s0f1", 4)


def test_with_ixgbevf_blacklisted_the_vf_goes_back_to_no_driver() -> None:
    host = boot("talk-after")  # as shipped: ixgbevf blacklisted, new VFs stay unbound
    set_vf_count(host, "enp3s0f1", 7)
    hv = SimulatedHypervisor(host)
    hv.start(INSTANCE_1_SPEC)
    assert vf(host, VF0).driver == "vfio-pci"
    hv.destroy(INSTANCE_1)
    after = vf(host, VF0)
    assert (after.driver, after.driver_override) == (None, None)
    set_vf_count(host, "enp3s0f1", 4)  # nothing in use any more


# --------------------------------------------------------------------- attach / detach


def test_attach_and_detach_on_a_running_guest(
    hv: SimulatedHypervisor, kernel: SimulatedKernel
) -> None:
    hv.start(instance())
    hv.attach_nic(INSTANCE_1, vf_nic())
    assert held_by(kernel, VF0) == f"guest Instance-1 ({INSTANCE_1})"
    assert hv.guest(INSTANCE_1) == Guest(INSTANCE_1_SPEC, PowerState.RUNNING)
    hv.detach_nic(INSTANCE_1, "vf-port")
    assert vf(kernel, VF0).driver == "ixgbevf" and held_by(kernel, VF0) is None
    assert hv.guest(INSTANCE_1) == Guest(instance(), PowerState.RUNNING)


def test_attach_and_detach_are_idempotent(hv: SimulatedHypervisor, kernel: SimulatedKernel) -> None:
    hv.start(INSTANCE_1_SPEC)
    done = writes(kernel)
    hv.attach_nic(INSTANCE_1, vf_nic())
    hv.detach_nic(INSTANCE_1, "not-plugged")
    assert writes(kernel) == done


def test_a_port_plugged_as_another_nic_is_a_conflict(hv: SimulatedHypervisor) -> None:
    hv.start(INSTANCE_1_SPEC)
    with pytest.raises(Conflict, match="port vf-port is plugged into guest Instance-1"):
        hv.attach_nic(INSTANCE_1, vf_nic(VF1))


def test_a_second_nic_for_the_same_vf_is_refused(hv: SimulatedHypervisor) -> None:
    hv.start(INSTANCE_1_SPEC)
    with pytest.raises(InvalidInput, match="already given to port vf-port"):
        hv.attach_nic(INSTANCE_1, vf_nic(port="again", mac=MAC_2))


def test_attach_to_a_vf_another_guest_holds_is_a_conflict(
    hv: SimulatedHypervisor, kernel: SimulatedKernel
) -> None:
    hv.start(INSTANCE_1_SPEC)
    hv.start(instance(INSTANCE_2, "Instance-2"))
    with pytest.raises(Conflict, match="held by guest Instance-1"):
        hv.attach_nic(INSTANCE_2, vf_nic(port="other", mac=MAC_2))
    assert hv.guest(INSTANCE_2) == Guest(instance(INSTANCE_2, "Instance-2"), PowerState.RUNNING)


def test_nic_changes_on_a_missing_guest_are_not_found(hv: SimulatedHypervisor) -> None:
    with pytest.raises(NotFound, match=f"guest {INSTANCE_1} not found"):
        hv.attach_nic(INSTANCE_1, vf_nic())
    with pytest.raises(NotFound):
        hv.detach_nic(INSTANCE_1, "vf-port")


# --------------------------------------------------------------------------- power


def test_power_off_gives_the_vf_back_and_power_on_takes_it_again(
    hv: SimulatedHypervisor, kernel: SimulatedKernel
) -> None:
    hv.start(INSTANCE_1_SPEC)
    hv.power_off(INSTANCE_1)
    assert hv.guest(INSTANCE_1) == Guest(INSTANCE_1_SPEC, PowerState.SHUTDOWN)
    assert vf(kernel, VF0).driver == "ixgbevf"
    done = writes(kernel)
    hv.power_off(INSTANCE_1)
    assert writes(kernel) == done
    hv.power_on(INSTANCE_1)
    assert hv.guest(INSTANCE_1) == Guest(INSTANCE_1_SPEC, PowerState.RUNNING)
    assert held_by(kernel, VF0) == f"guest Instance-1 ({INSTANCE_1})"
    done = writes(kernel)
    hv.power_on(INSTANCE_1)
    assert writes(kernel) == done


def test_a_stopped_guests_vf_may_go_to_another_guest(hv: SimulatedHypervisor) -> None:
    hv.start(INSTANCE_1_SPEC)
    hv.power_off(INSTANCE_1)
    hv.start(instance(INSTANCE_2, "Instance-2", vf_nic(port="other", mac=MAC_2)))
    with pytest.raises(Conflict, match="held by guest Instance-2"):
        hv.power_on(INSTANCE_1)
    assert hv.guest(INSTANCE_1) == Guest(INSTANCE_1_SPEC, PowerState.SHUTDOWN)


def test_start_powers_on_a_stopped_guest_of_the_same_spec(hv: SimulatedHypervisor) -> None:
    hv.start(INSTANCE_1_SPEC)
    hv.power_off(INSTANCE_1)
    assert hv.start(INSTANCE_1_SPEC).power_state is PowerState.RUNNING


def test_power_on_a_missing_guest_is_not_found(hv: SimulatedHypervisor) -> None:
    with pytest.raises(NotFound):
        hv.power_on(INSTANCE_1)
    with pytest.raises(NotFound):
        hv.power_off(INSTANCE_1)


# ------------------------------------------------------------------ other NIC kinds


def macvtap(dev: str, port: str = "mv", mac: MacAddress = MAC_2) -> GuestNic:
    return GuestNic(port, mac, NicKind.MACVTAP, source_dev=dev)


def test_macvtap_needs_the_vfs_netdev(hv: SimulatedHypervisor) -> None:
    hv.start(instance(INSTANCE_1, "Instance-1", macvtap("enp3s0f1v1")))
    with pytest.raises(NotFound, match="netdev enp3s0f1v9 not found"):
        hv.start(instance(INSTANCE_2, "Instance-2", macvtap("enp3s0f1v9")))


def test_a_vf_passed_through_has_no_netdev_for_macvtap(hv: SimulatedHypervisor) -> None:
    hv.start(INSTANCE_1_SPEC)  # VF 0 on vfio-pci: enp3s0f1v0 is gone
    with pytest.raises(NotFound, match="netdev enp3s0f1v0 not found"):
        hv.start(instance(INSTANCE_2, "Instance-2", macvtap("enp3s0f1v0")))


def test_a_netdev_under_a_macvtap_cannot_be_passed_through_or_shared(
    hv: SimulatedHypervisor, kernel: SimulatedKernel
) -> None:
    hv.start(instance(INSTANCE_1, "Instance-1", macvtap("enp3s0f1v0")))
    with pytest.raises(Conflict, match="held by guest Instance-1"):
        hv.start(instance(INSTANCE_2, "Instance-2", vf_nic()))
    assert vf(kernel, VF0).netdev == "enp3s0f1v0"
    with pytest.raises(Conflict, match="netdev enp3s0f1v0 is held by guest Instance-1"):
        hv.start(instance(INSTANCE_2, "Instance-2", macvtap("enp3s0f1v0", port="mv2")))


def test_a_bridge_port_needs_nothing_from_the_kernel(
    hv: SimulatedHypervisor, kernel: SimulatedKernel
) -> None:
    bridged = GuestNic("ovs", MAC_2, NicKind.BRIDGE, bridge="br-enp3s0f0")
    done = writes(kernel)
    hv.start(instance(INSTANCE_1, "Instance-1", bridged))
    hv.start(
        instance(
            INSTANCE_2, "Instance-2", GuestNic("ovs2", MAC_1, NicKind.BRIDGE, bridge="br-enp3s0f0")
        )
    )
    assert writes(kernel) == done


def pf_nic(address: PciAddress, port: str = "pf") -> GuestNic:
    return GuestNic(port, MAC_2, NicKind.HOSTDEV_PF, pci_address=address)


def test_a_whole_pf_without_vfs_goes_to_one_guest(hv: SimulatedHypervisor) -> None:
    hv.start(instance(INSTANCE_1, "Instance-1", pf_nic(PF0_ADDRESS)))
    with pytest.raises(Conflict, match=re.escape("0000:03:00.0 is held by guest Instance-1")):
        hv.start(instance(INSTANCE_2, "Instance-2", pf_nic(PF0_ADDRESS, "pf2")))
    hv.destroy(INSTANCE_1)
    hv.start(instance(INSTANCE_2, "Instance-2", pf_nic(PF0_ADDRESS, "pf2")))


def test_a_pf_with_vfs_cannot_be_passed_through_whole(hv: SimulatedHypervisor) -> None:
    with pytest.raises(Conflict, match=re.escape("PF 0000:03:00.1 has VFs")):
        hv.start(instance(INSTANCE_1, "Instance-1", pf_nic(PF1_ADDRESS)))
    with pytest.raises(NotFound, match=re.escape("PF 0000:04:10.1 not found")):
        hv.start(instance(INSTANCE_1, "Instance-1", pf_nic(VF0)))


def test_without_a_kernel_guests_still_do_not_share_devices() -> None:
    hv = SimulatedHypervisor()
    hv.start(INSTANCE_1_SPEC)
    with pytest.raises(Conflict, match="held by guest Instance-1"):
        hv.start(instance(INSTANCE_2, "Instance-2", vf_nic(port="other", mac=MAC_2)))


# ------------------------------------------------------------------------ state files


def test_state_saves_and_loads_through_json(
    hv: SimulatedHypervisor, kernel: SimulatedKernel
) -> None:
    hv.start(INSTANCE_1_SPEC)
    hv.start(instance(INSTANCE_2, "Instance-2", macvtap("enp3s0f1v1")))
    hv.power_off(INSTANCE_2)
    saved = json.loads(json.dumps(hv.save()))
    again = SimulatedHypervisor.load(saved, kernel)
    assert again.guests() == hv.guests()
    assert again.save() == saved
    # What the VF had before the guest is kept too: destroying after a reload gives it back.
    again.destroy(INSTANCE_1)
    assert vf(kernel, VF0).driver == "ixgbevf" and held_by(kernel, VF0) is None


def test_damaged_state_is_refused() -> None:
    with pytest.raises(InvalidInput, match="hypervisor state format"):
        SimulatedHypervisor.load({"format": 99})
    with pytest.raises(InvalidInput, match="hypervisor state: is damaged"):
        SimulatedHypervisor.load({"format": 1, "guests": [{"spec": {}}]})
