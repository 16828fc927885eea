"""After any change the simulated sysfs reads as a fresh render would; a change redraws little."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

import pytest
from tests.factories import boot

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import KernelError
from sriovstack.domain.vfconfig import LinkState, TxRate, VlanTag
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.sysfs import Attr, Dir, Link, Node, Tree

PF1 = "bus/pci/devices/0000:03:00.1"  # the talk's second X540 port, enp3s0f1 (ixgbe)
VF0, VF1 = "0000:04:10.1", "0000:04:10.3"  # its first two VFs (offset 384, stride 2)
Step = Callable[[SimulatedKernel], object]


def files(tree: Tree) -> dict[str, tuple[object, ...]]:
    """Every path with what a reader finds there (a write handler only as being there)."""
    found: dict[str, tuple[object, ...]] = {}
    stack: list[tuple[str, Dir]] = [("", tree.root)]
    while stack:
        prefix, node = stack.pop()
        for name, child in node.children.items():
            found[prefix + name] = _seen(child)
            if isinstance(child, Dir):
                stack.append((f"{prefix}{name}/", child))
    return found


def _seen(node: Node) -> tuple[object, ...]:
    if isinstance(node, Dir):
        return ("dir",)
    if isinstance(node, Link):
        return ("link", node.target)
    return ("attr", node.text, node.error, node.store is not None)


def after(kernel: SimulatedKernel, *steps: Step) -> SimulatedKernel:
    """Apply the steps with the tree read before each, so each one updates a rendered tree."""
    for step in steps:
        kernel.tree()
        step(kernel)
    return kernel


def write(path: str, value: str) -> Step:
    return lambda k: k.write(path, value)


def numvfs(count: int, pf: str = PF1) -> Step:
    return write(f"{pf}/sriov_numvfs", str(count))


def to_vfio(address: str) -> list[Step]:
    """Bind a VF to vfio-pci the way libvirt does: driver_override, then a probe."""
    return [
        write(f"bus/pci/devices/{address}/driver_override", "vfio-pci"),
        write("bus/pci/drivers_probe", address),
    ]


def set_vf(index: int, **settings: Any) -> Step:
    return lambda k: k.set_vf("enp3s0f1", index, **settings)


def set_link(ifname: str, *, up: bool) -> Step:
    return lambda k: k.set_link(ifname, up=up)


def with_host_vf_netdevs() -> SimulatedKernel:
    """The talk's host with ixgbevf allowed, so VFs get netdevs on the host."""
    return boot("talk-after", blacklist=frozenset())


def direct_change(kernel: SimulatedKernel) -> None:
    # What restoring a saved state does: change the objects, then say so.
    kernel.pfs[PciAddress.parse("0000:03:00.1")].autoprobe = False
    kernel.changed()


CHANGES: dict[str, Callable[[], SimulatedKernel]] = {
    "enable VFs": lambda: after(boot(), numvfs(7)),
    "disable VFs": lambda: after(boot(), numvfs(7), numvfs(0)),
    "enable VFs again": lambda: after(boot(), numvfs(7), numvfs(0), numvfs(3)),
    "bind a VF to vfio-pci": lambda: after(boot(), numvfs(3), *to_vfio(VF0)),
    "unbind it": lambda: after(
        boot(),
        numvfs(3),
        *to_vfio(VF0),
        write("bus/pci/drivers/vfio-pci/unbind", VF0),
        write(f"bus/pci/devices/{VF0}/driver_override", "\n"),
    ),
    "disable VFs bound to vfio-pci": lambda: after(boot(), numvfs(3), *to_vfio(VF0), numvfs(0)),
    "a VF's driver_override": lambda: after(
        boot(), numvfs(3), write(f"bus/pci/devices/{VF1}/driver_override", "ixgbevf")
    ),
    "a PF's driver_override": lambda: after(boot(), write(f"{PF1}/driver_override", "ixgbe")),
    "autoprobe off": lambda: after(boot(), write(f"{PF1}/sriov_drivers_autoprobe", "0")),
    "unbind the PF driver": lambda: after(
        boot(), numvfs(3), write("bus/pci/drivers/ixgbe/unbind", "0000:03:00.1")
    ),
    "bind it back": lambda: after(
        boot(),
        write("bus/pci/drivers/ixgbe/unbind", "0000:03:00.1"),
        write("bus/pci/drivers/ixgbe/bind", "0000:03:00.1"),
    ),
    "set_vf MAC": lambda: after(
        boot(), numvfs(3), set_vf(0, mac=MacAddress.parse("02:00:00:00:00:01"))
    ),
    "set_vf VLAN, trust, spoof check and rate": lambda: after(
        boot(),
        numvfs(3),
        set_vf(1, vlan=VlanTag(10), trust=True, spoofchk=False, rate=TxRate(0, 1000)),
    ),
    "set_vf link state of a VF with a host netdev": lambda: after(
        with_host_vf_netdevs(),
        numvfs(3),
        set_link("enp3s0f1v1", up=True),
        set_vf(1, link_state=LinkState.DISABLE),
    ),
    "VF netdev up": lambda: after(
        with_host_vf_netdevs(), numvfs(3), set_link("enp3s0f1v0", up=True)
    ),
    "PF link down": lambda: after(
        with_host_vf_netdevs(),
        numvfs(3),
        set_link("enp3s0f1v1", up=True),
        set_link("enp3s0f1", up=False),
    ),
    "PF link up again": lambda: after(
        with_host_vf_netdevs(),
        set_link("enp3s0f1", up=False),
        numvfs(3),
        set_link("enp3s0f1v1", up=True),
        set_link("enp3s0f1", up=True),
    ),
    "lo down": lambda: after(boot(), set_link("lo", up=False)),
    "a direct change announced with changed()": lambda: after(boot(), direct_change),
    "bind on the 4 x 128 VF host": lambda: after(
        boot("e810-4x128"),
        numvfs(128, "bus/pci/devices/0000:31:00.1"),
        *to_vfio("0000:31:11.0"),
    ),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_after_a_change_the_tree_equals_a_fresh_render(
    change: Callable[[], SimulatedKernel],
) -> None:
    kernel = change()
    assert files(kernel.tree()) == files(kernel.fresh_tree())


@pytest.mark.parametrize(
    "settings",
    [
        {"mac": MacAddress.parse("02:00:00:00:00:01")},
        {"vlan": VlanTag(10)},
        {"spoofchk": False},
        {"trust": True},
        {"rate": TxRate(0, 1000)},
        {"link_state": LinkState.DISABLE},  # this VF has no host netdev: nothing shows it
    ],
    ids=lambda s: next(iter(s)),
)
def test_a_vf_setting_sysfs_does_not_show_redraws_nothing(settings: dict[str, Any]) -> None:
    kernel = after(boot(), numvfs(3))
    before = files(kernel.tree())
    draws = kernel.assembly.draws
    set_vf(0, **settings)(kernel)
    assert files(kernel.tree()) == before
    assert kernel.assembly.draws == draws


def test_binding_a_vf_redraws_that_vf_alone() -> None:
    kernel = after(boot(), numvfs(7))
    tree = kernel.tree()
    untouched = [f"{PF1}/sriov_numvfs", f"bus/pci/devices/{VF1}/driver_override", "class/net/lo"]
    nodes = [tree.lookup(path, follow_last=False)[0] for path in untouched]
    draws = kernel.assembly.draws
    after(kernel, *to_vfio(VF0))
    kernel.tree()
    assert kernel.assembly.draws == draws + 2  # one for each write: the override and the probe
    assert (
        kernel.readlink(f"bus/pci/devices/{VF0}/driver") == "../../../../bus/pci/drivers/vfio-pci"
    )
    now = [tree.lookup(path, follow_last=False)[0] for path in untouched]
    assert all(a is b for a, b in zip(now, nodes, strict=True))


def test_a_vf_netdevs_link_state_shows_in_its_operstate() -> None:
    kernel = after(with_host_vf_netdevs(), numvfs(3), set_link("enp3s0f1v1", up=True))
    assert kernel.read("class/net/enp3s0f1v1/operstate") == "up\n"
    set_vf(1, link_state=LinkState.DISABLE)(kernel)
    assert kernel.read("class/net/enp3s0f1v1/operstate") == "down\n"
    assert kernel.read("class/net/enp3s0f1v1/carrier") == "0\n"


def test_write_handlers_act_on_the_vfs_that_exist_now() -> None:
    kernel = after(boot(), numvfs(3), numvfs(0), numvfs(3))
    kernel.write(f"bus/pci/devices/{VF0}/driver_override", "vfio-pci")
    _, vf = kernel.find_vf(PciAddress.parse(VF0))
    assert vf.driver_override == "vfio-pci"
    assert kernel.read(f"bus/pci/devices/{VF0}/driver_override") == "vfio-pci\n"


def test_a_directory_read_before_a_change_is_looked_up_afresh_after_it() -> None:
    kernel = after(boot(), numvfs(3))
    assert kernel.read(f"bus/pci/devices/{VF0}/vendor") == "0x8086\n"
    assert "driver" not in kernel.listdir(f"bus/pci/devices/{VF0}")
    after(kernel, *to_vfio(VF0))
    assert "driver" in kernel.listdir(f"bus/pci/devices/{VF0}")
    kernel.write(f"{PF1}/sriov_numvfs", "0")
    with pytest.raises(KernelError) as exc:
        kernel.read(f"bus/pci/devices/{VF0}/vendor")
    assert exc.value.errno == errno.ENOENT


def test_removing_a_tree_node_takes_the_directories_it_leaves_empty() -> None:
    tree = Tree()
    tree.put("kernel/iommu_groups", Dir())
    tree.attr("kernel/iommu_groups/17/type", "DMA\n")
    tree.attr("kernel/iommu_groups/17/devices/x", "1\n")
    made = "kernel/iommu_groups".__eq__  # made on purpose, so kept even while empty
    tree.remove("kernel/iommu_groups/17/devices/x", keep=made)
    assert names(tree, "kernel/iommu_groups/17") == ["type"]
    tree.remove("kernel/iommu_groups/17/type", keep=made)
    assert names(tree, "kernel/iommu_groups") == []
    assert names(tree, "kernel") == ["iommu_groups"]


def test_removing_a_directory_waits_until_it_is_empty() -> None:
    tree = Tree()
    tree.put("a/b", Dir())
    tree.attr("a/b/c", "1\n")
    tree.remove("a/b", keep=lambda path: False)
    assert isinstance(tree.lookup("a/b/c")[0], Attr)
    tree.remove("a/b/c", keep=lambda path: False)
    assert tree.root.children == {}


def names(tree: Tree, path: str) -> list[str]:
    node, _ = tree.lookup(path)
    assert isinstance(node, Dir)
    return sorted(node.children)
