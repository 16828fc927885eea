"""The Kernel seam's file side answers alike from ``SimulatedKernel`` and from ``LinuxKernel``.

Every path of each simulated host (and every path through ``bus/pci/devices/<bdf>`` and
``class/net/<ifname>``, where host logic starts) gets every sysfs call on both kernels: the same
text, link target, names, errno. Two differences come from the disk, not the kernel, and are
checked as such: a write-only attribute is an empty file that root may read, and an attribute
whose read fails (a down netdev's ``carrier``) cannot be copied, so the export leaves it out.

The formats themselves are checked against the kernel's (reference/linux-sriov.md §1) on the
simulated hosts and on the recorded trees alike, and the simulator's sysfs and rtnetlink views of
each netdev against each other.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.contract.hosts import Exported, boot_host

from sriovstack.domain.errors import KernelError
from sriovstack.host.kernel import Kernel
from sriovstack.host.linux import LinuxKernel
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.sysfs import Attr, Dir, Link, Node

RECORDED = Path(__file__).parent.parent / "data" / "sysfs"
TREES = ("flat-82599", "nested-x710")

Outcome = tuple[str, object]  # ("ok", value) or ("errno", "ENOENT")


def _outcome(call: Callable[[str], object], path: str) -> Outcome:
    try:
        return "ok", call(path)
    except KernelError as exc:
        return "errno", errno.errorcode.get(exc.errno, str(exc.errno))


def _walk(node: Dir, prefix: str = "") -> Iterator[tuple[str, Node]]:
    """Every path of the simulated tree with its node, symlinks not followed."""
    for name, child in node.children.items():
        path = f"{prefix}{name}"
        yield path, child
        if isinstance(child, Dir):
            yield from _walk(child, f"{path}/")


def _node(sim: SimulatedKernel, path: str) -> Node | None:
    try:
        node, _ = sim.tree().lookup(path, follow_last=False)
    except KernelError:
        return None
    return node


def _unreadable(node: Node | None) -> bool:
    """An attribute whose read fails with an errno of its own: absent from an export."""
    return isinstance(node, Attr) and node.error is not None


def _write_only(node: Node | None) -> bool:
    return isinstance(node, Attr) and node.text is None and node.error is None


# The links host logic starts from; following any other kind works the same way.
_ENTRY_LINKS = re.compile(r"(bus/pci/devices|class/net)/[^/]+")


def _paths(sim: SimulatedKernel) -> Iterator[str]:
    """Every path, a missing one in each directory, and the paths through the entry links."""
    tree = sim.tree()
    for path, node in _walk(tree.root):
        yield path
        if isinstance(node, Dir):
            yield f"{path}/no-such-file"
        if isinstance(node, Link) and _ENTRY_LINKS.fullmatch(path) and sim.exists(path):
            target, _ = tree.lookup(path)
            if isinstance(target, Dir):
                yield from (f"{path}/{name}" for name in target.children)


def _differences(host: Exported, path: str) -> list[str]:
    sim, linux = host.sim, host.linux
    node = _node(sim, path)
    if _unreadable(node):
        # kernfs keeps the file and fails its read; the export could not copy it
        return [
            f"{path}: {call} sim={_outcome(getattr(sim, call), path)} "
            f"linux={_outcome(getattr(linux, call), path)}"
            for call, want_sim, want_linux in (
                ("exists", ("ok", True), ("ok", False)),
                ("read", ("errno", "EINVAL"), ("errno", "ENOENT")),
            )
            if _outcome(getattr(sim, call), path) != want_sim
            or _outcome(getattr(linux, call), path) != want_linux
        ]
    calls: dict[str, tuple[Callable[[str], object], Callable[[str], object]]] = {
        "exists": (sim.exists, linux.exists),
        "is_link": (sim.is_link, linux.is_link),
        "readlink": (sim.readlink, linux.readlink),
        "listdir": (lambda p: _exported_names(sim, p), linux.listdir),
    }
    if not _write_only(node):
        calls["read"] = (sim.read, linux.read)
    out = []
    for name, (on_sim, on_linux) in calls.items():
        want, got = _outcome(on_sim, path), _outcome(on_linux, path)
        if want != got:
            out.append(f"{path}: {name} sim={want} linux={got}")
    return out


def _exported_names(sim: SimulatedKernel, path: str) -> list[str]:
    names = sim.listdir(path)  # fails as the kernel does when path is no directory
    node, _ = sim.tree().lookup(path)
    assert isinstance(node, Dir)
    return [n for n in names if not _unreadable(node.children[n])]


def test_every_path_answers_the_same_on_both_kernels(exported: Exported) -> None:
    differences = [d for path in _paths(exported.sim) for d in _differences(exported, path)]
    assert differences[:20] == [], f"{len(differences)} differences"


def test_boot_facts_are_the_same_on_both_kernels(exported: Exported) -> None:
    sim, linux = exported.sim, exported.linux
    assert linux.cmdline() == sim.cmdline()
    assert linux.log() == sim.log()
    assert linux.blacklisted_modules() == sim.blacklisted_modules()


# ------------------------------------------------------------------------------------------
# formats: the simulator's files read like the kernel's, and so do the recorded trees

_MAC = r"[0-9a-f]{2}(:[0-9a-f]{2}){5}\n"
_RESOURCE_LINE = r"0x[0-9a-f]{16} 0x[0-9a-f]{16} 0x[0-9a-f]{16}\n"
FORMATS: dict[str, str] = {
    # PCI function (§1.6)
    "vendor": r"0x[0-9a-f]{4}\n",
    "device": r"0x[0-9a-f]{4}\n",
    "subsystem_vendor": r"0x[0-9a-f]{4}\n",
    "subsystem_device": r"0x[0-9a-f]{4}\n",
    "revision": r"0x[0-9a-f]{2}\n",
    "class": r"0x[0-9a-f]{6}\n",
    "numa_node": r"-?[0-9]+\n",
    "enable": r"[0-9]+\n",
    "modalias": r"pci:v[0-9A-F]{8}d[0-9A-F]{8}sv[0-9A-F]{8}sd[0-9A-F]{8}bc[0-9A-F]{2}"
    r"sc[0-9A-F]{2}i[0-9A-F]{2}\n",
    "resource": f"({_RESOURCE_LINE})+",
    "driver_override": r"\S+\n",  # "(null)" when unset
    "secondary_bus_number": r"[0-9]+\n",
    "subordinate_bus_number": r"[0-9]+\n",
    # SR-IOV capability (§1.1): decimal, and the VF device id as bare hex
    "sriov_totalvfs": r"[0-9]+\n",
    "sriov_numvfs": r"[0-9]+\n",
    "sriov_offset": r"[0-9]+\n",
    "sriov_stride": r"[0-9]+\n",
    "sriov_vf_device": r"[0-9a-f]{1,4}\n",
    "sriov_drivers_autoprobe": r"[01]\n",
    "sriov_vf_total_msix": r"[0-9]+\n",
    # netdev (class/net)
    "address": _MAC,
    "ifindex": r"[0-9]+\n",
    "mtu": r"[0-9]+\n",
    "flags": r"0x[0-9a-f]+\n",
    "carrier": r"[01]\n",
    "operstate": r"(unknown|notpresent|down|lowerlayerdown|testing|dormant|up)\n",
}


def _files(kernel: Kernel, path: str = "") -> Iterator[str]:
    """Every readable file of a tree, by the kernel calls alone, symlinks not followed."""
    for name in kernel.listdir(path):
        child = f"{path}/{name}" if path else name
        if kernel.is_link(child):
            continue
        try:
            yield from _files(kernel, child)
        except KernelError as exc:
            if exc.errno != errno.ENOTDIR:
                raise
            yield child


def _format_errors(kernel: Kernel) -> list[str]:
    errors = []
    for path in _files(kernel):
        rule = FORMATS.get(path.rsplit("/", 1)[-1])
        if rule is None:
            continue
        try:
            text = kernel.read(path)
        except KernelError:
            continue  # write-only, or a down netdev's carrier
        if not re.fullmatch(rule, text):
            errors.append(f"{path}: {text!r} is not {rule}")
    return errors


@pytest.mark.parametrize("tree", TREES)
def test_recorded_trees_use_the_kernels_formats(tree: str) -> None:
    assert _format_errors(LinuxKernel(RECORDED / tree / "sys", rtnetlink=False)) == []


def test_simulated_hosts_use_the_kernels_formats(exported: Exported) -> None:
    assert _format_errors(exported.sim) == []


def test_pf_resource_has_thirteen_lines_as_on_a_recorded_host(exported: Exported) -> None:
    recorded = LinuxKernel(RECORDED / "nested-x710" / "sys", rtnetlink=False)
    want = recorded.read("bus/pci/devices/0000:85:00.0/resource").count("\n")
    sim = exported.sim
    for name in sim.listdir("bus/pci/devices"):
        if sim.exists(f"bus/pci/devices/{name}/sriov_totalvfs"):
            assert sim.read(f"bus/pci/devices/{name}/resource").count("\n") == want


# ------------------------------------------------------------------------------------------
# the simulator's two views of a netdev


def _sysfs_view(kernel: SimulatedKernel, ifname: str) -> dict[str, object]:
    base = f"class/net/{ifname}"
    flags = int(kernel.read(f"{base}/flags"), 16)
    try:
        carrier: object = kernel.read(f"{base}/carrier") == "1\n"
    except KernelError as exc:
        carrier = errno.errorcode[exc.errno]
    return {
        "ifindex": int(kernel.read(f"{base}/ifindex")),
        "mac": kernel.read(f"{base}/address").strip(),
        "mtu": int(kernel.read(f"{base}/mtu")),
        "admin_up": bool(flags & 0x1),
        "carrier": carrier,
        "operstate": kernel.read(f"{base}/operstate").strip(),
    }


def _rtnetlink_view(kernel: SimulatedKernel, ifname: str) -> dict[str, object]:
    link = kernel.link(ifname)
    operstate = "up" if link.oper_up else "down"
    return {
        "ifindex": link.index,
        "mac": str(link.mac),
        "mtu": link.mtu,
        "admin_up": link.admin_up,
        # carrier_show() refuses a down device; rtnetlink still answers
        "carrier": link.carrier if link.admin_up else "EINVAL",
        "operstate": "unknown" if ifname == "lo" else operstate,
    }


def test_sysfs_and_rtnetlink_describe_each_netdev_alike(exported: Exported) -> None:
    sim = exported.sim
    names = [link.ifname for link in sim.links()]
    assert sorted(names) == sim.listdir("class/net")
    for ifname in names:
        assert _sysfs_view(sim, ifname) == _rtnetlink_view(sim, ifname), ifname


def test_a_down_netdevs_carrier_fails_with_einval_but_is_listed() -> None:
    sim = boot_host("talk-before")  # PF links down at boot
    base = "class/net/enp3s0f0"
    assert "carrier" in sim.listdir(base)
    assert sim.exists(f"{base}/carrier")
    with pytest.raises(KernelError) as caught:
        sim.read(f"{base}/carrier")
    assert caught.value.errno == errno.EINVAL
    sim.set_link("enp3s0f0", up=True)
    assert sim.read(f"{base}/carrier") == "1\n"
