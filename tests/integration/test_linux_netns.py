"""LinuxKernel's rtnetlink side against this machine's kernel, inside a throwaway netns.

A bridge ``br0`` and a veth pair ``veth0``/``veth1`` with ``veth0`` enslaved to the bridge:
no SR-IOV hardware, so VF calls must come back as the kernel's EOPNOTSUPP.
"""

from __future__ import annotations

import errno
import gc
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute, netns

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import KernelError
from sriovstack.domain.observed import FdbEntry
from sriovstack.domain.vfconfig import LinkState, TxRate, VlanProto, VlanTag
from sriovstack.host.linux import LinuxKernel

pytestmark = pytest.mark.netns

MAC = MacAddress.parse("02:5e:00:00:00:01")
CAP_SYS_ADMIN = 21  # include/uapi/linux/capability.h


def namespaces_unavailable() -> str | None:
    """Why this process cannot make network namespaces, or None when it can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    status = Path("/proc/self/status").read_text()
    caps = next(
        (line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), "0"
    )
    if not int(caps, 16) >> CAP_SYS_ADMIN & 1:
        return "needs CAP_SYS_ADMIN to create network namespaces"
    return None


def create_netns(name: str) -> str | None:
    """Create a netns; on failure, the reason."""
    # a failing netns.create() leaves pyroute2's child-process sockets unclosed: let them be
    # collected while their ResourceWarnings are ignored
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            netns.create(name)
        except Exception as exc:  # pyroute2 re-raises the child's failure as it was
            reason = f"cannot create a network namespace here: {exc!r}"
        else:
            return None
        gc.collect()
    return reason


def open_netns_socket(name: str) -> Any:
    # pyroute2 makes the socket in a forked child; the child's copy of the socket object is
    # collected unclosed there, which -W error would print as noise from the child
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return IPRoute(netns=name, flags=0)


@pytest.fixture
def nsname() -> Iterator[str]:
    """A fresh netns with br0 and veth0 (in br0) / veth1; removed afterwards in any case."""
    reason = namespaces_unavailable()
    if reason is not None:
        pytest.skip(reason)
    name = f"sriovstack-test-{uuid.uuid4().hex[:12]}"
    reason = create_netns(name)
    if reason is not None:
        pytest.skip(reason)
    try:
        with open_netns_socket(name) as ipr:
            ipr.link("add", ifname="br0", kind="bridge")
            ipr.link("add", ifname="veth0", kind="veth", peer="veth1")
            (bridge,) = ipr.link_lookup(ifname="br0")
            (port,) = ipr.link_lookup(ifname="veth0")
            ipr.link("set", index=port, master=bridge)
        yield name
    finally:
        netns.remove(name)


@pytest.fixture
def kernel(nsname: str) -> Iterator[LinuxKernel]:
    with LinuxKernel(netns=nsname) as kernel:
        yield kernel


def by_name(kernel: LinuxKernel) -> dict[str, Any]:
    return {link.ifname: link for link in kernel.links()}


# ------------------------------------------------------------------------------------------
# links


def test_links_sees_the_namespace_devices_without_vf_counts(kernel: LinuxKernel) -> None:
    links = by_name(kernel)
    assert set(links) == {"lo", "br0", "veth0", "veth1"}
    assert all(link.num_vfs is None and link.vfs == () for link in links.values())
    assert links["lo"].mac == MacAddress.zero()
    assert links["veth0"].mac.is_unicast
    assert links["veth0"].mtu == 1500


def test_link_asks_for_one_device(kernel: LinuxKernel) -> None:
    veth = kernel.link("veth0")
    assert veth == by_name(kernel)["veth0"]
    assert (veth.ifname, veth.num_vfs, veth.vfs) == ("veth0", None, ())
    assert not veth.admin_up


def test_set_link_up_and_down_is_seen_back(kernel: LinuxKernel) -> None:
    kernel.set_link("veth1", up=True)
    kernel.set_link("veth0", up=True)
    veth = kernel.link("veth0")
    assert (veth.admin_up, veth.carrier, veth.oper_up) == (True, True, True)

    kernel.set_link("veth1", up=False)  # the peer going down takes the carrier away
    veth = kernel.link("veth0")
    assert (veth.admin_up, veth.carrier) == (True, False)

    kernel.set_link("veth0", up=False)
    assert not kernel.link("veth0").admin_up


# ------------------------------------------------------------------------------------------
# FDB


def test_fdb_add_list_del_round_trip(kernel: LinuxKernel) -> None:
    assert MAC not in {entry.mac for entry in kernel.fdb_list("veth0")}

    kernel.fdb_add("veth0", MAC)
    ours = [entry for entry in kernel.fdb_list("veth0") if entry.mac == MAC]
    assert ours == [FdbEntry(ifname="veth0", mac=MAC, vlan=None, master=None, permanent=True)]

    kernel.fdb_del("veth0", MAC)
    assert MAC not in {entry.mac for entry in kernel.fdb_list("veth0")}


def test_fdb_add_twice_is_eexist(kernel: LinuxKernel) -> None:
    kernel.fdb_add("veth0", MAC)
    with pytest.raises(KernelError) as caught:
        kernel.fdb_add("veth0", MAC)
    assert caught.value.errno == errno.EEXIST
    assert caught.value.target == "veth0"


def test_fdb_del_of_a_missing_entry_is_enoent(kernel: LinuxKernel) -> None:
    with pytest.raises(KernelError) as caught:
        kernel.fdb_del("veth0", MAC)
    assert caught.value.errno == errno.ENOENT


def test_fdb_list_shows_the_bridge_entry_of_a_port(kernel: LinuxKernel) -> None:
    # the bridge keeps a local entry for each port's own address, naming itself as master
    own = kernel.link("veth0").mac
    entries = [entry for entry in kernel.fdb_list("veth0") if entry.mac == own]
    assert FdbEntry(ifname="veth0", mac=own, master="br0", permanent=True) in entries
    assert all(entry.ifname == "veth0" for entry in kernel.fdb_list("veth0"))


def test_fdb_list_is_per_device(kernel: LinuxKernel) -> None:
    kernel.fdb_add("veth1", MAC)
    assert MAC in {entry.mac for entry in kernel.fdb_list("veth1")}
    assert MAC not in {entry.mac for entry in kernel.fdb_list("veth0")}


# ------------------------------------------------------------------------------------------
# VFs on a device without any


@pytest.mark.parametrize(
    "settings",
    [
        {"mac": MAC},
        {"vlan": VlanTag(vlan=100, qos=3)},
        {"vlan": VlanTag(vlan=100, proto=VlanProto.DOT1AD)},
        {"spoofchk": False},
        {"trust": True},
        {"link_state": LinkState.DISABLE},
        {"rate": TxRate(min_mbps=10, max_mbps=100)},
        {
            "mac": MAC,
            "vlan": VlanTag(vlan=7),
            "spoofchk": True,
            "trust": False,
            "link_state": LinkState.AUTO,
            "rate": TxRate(max_mbps=1000),
        },
    ],
    ids=["mac", "vlan", "vlan-802.1ad", "spoofchk", "trust", "link_state", "rate", "all"],
)
def test_set_vf_on_a_veth_is_eopnotsupp(kernel: LinuxKernel, settings: dict[str, Any]) -> None:
    # EOPNOTSUPP, not EINVAL, also shows each IFLA_VF_* passed the kernel's length policy
    with pytest.raises(KernelError) as caught:
        kernel.set_vf("veth0", 0, **settings)
    assert caught.value.errno == errno.EOPNOTSUPP
    assert caught.value.target == "veth0"


def test_set_vf_with_nothing_to_set_sends_nothing(kernel: LinuxKernel) -> None:
    kernel.set_vf("veth0", 0)


# ------------------------------------------------------------------------------------------
# errors and lifetime


@pytest.mark.parametrize(
    "call",
    [
        lambda k: k.link("nosuch0"),
        lambda k: k.set_link("nosuch0", up=True),
        lambda k: k.set_vf("nosuch0", 0, trust=True),
        lambda k: k.fdb_add("nosuch0", MAC),
        lambda k: k.fdb_del("nosuch0", MAC),
        lambda k: k.fdb_list("nosuch0"),
    ],
    ids=["link", "set_link", "set_vf", "fdb_add", "fdb_del", "fdb_list"],
)
def test_unknown_device_is_enodev(kernel: LinuxKernel, call: Any) -> None:
    with pytest.raises(KernelError) as caught:
        call(kernel)
    assert caught.value.errno == errno.ENODEV
    assert caught.value.target == "nosuch0"


def test_a_closed_kernel_opens_a_new_socket_on_use(kernel: LinuxKernel) -> None:
    kernel.close()
    assert kernel.link("br0").ifname == "br0"
    kernel.close()
    kernel.close()


def test_a_missing_namespace_is_enoent_and_not_created() -> None:
    name = f"sriovstack-absent-{uuid.uuid4().hex[:12]}"
    with LinuxKernel(netns=name) as kernel, pytest.raises(KernelError) as caught:
        kernel.links()
    assert caught.value.errno == errno.ENOENT
    assert name not in netns.listnetns()
