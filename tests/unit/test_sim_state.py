"""A simulated host saved to a state file loads back the same; bad state files are refused."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest
from tests.factories import boot

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput, KernelError
from sriovstack.domain.vfconfig import LinkState, TxRate, VlanProto, VlanTag
from sriovstack.simulator import state
from sriovstack.simulator.kernel import SimulatedKernel

PROFILE = "dual-socket"
E810_0, E810_1 = "ens785f0", "ens785f1"  # ice; iavf is blacklisted, so VFs stay unbound
CX6_0, CX6_1 = "ens801f0np0", "ens801f1np1"  # mlx5_core binds its own VFs, with netdevs
HELD_VF = PciAddress.parse("0000:17:01.0")  # VF 0 of ens785f0


def sysfs(kernel: SimulatedKernel) -> dict[str, str]:
    """Every file and link of the tree, as the Kernel calls show them."""
    seen: dict[str, str] = {}
    folders = [""]
    while folders:
        folder = folders.pop()
        for name in kernel.listdir(folder):
            path = f"{folder}/{name}" if folder else name
            if kernel.is_link(path):
                seen[path] = f"-> {kernel.readlink(path)}"
                continue
            try:
                seen[path] = kernel.read(path)
            except KernelError as exc:
                if exc.errno == errno.EISDIR:
                    folders.append(path)
                else:
                    seen[path] = f"({errno.errorcode[exc.errno]})"
    return seen


def everything(kernel: SimulatedKernel) -> dict[str, Any]:
    """What a caller can observe of a host: sysfs, links with VF info, FDBs and the log."""
    links = kernel.links()
    return {
        "sysfs": sysfs(kernel),
        "links": links,
        "link": [kernel.link(link.ifname) for link in links],
        "fdb": [kernel.fdb_list(link.ifname) for link in links],
        "log": kernel.log(),
    }


def used_host() -> SimulatedKernel:
    """The dual-socket host after a day of work: VFs, VF config, FDB, links, vfio and a guest."""
    host = boot(PROFILE)
    host.write(f"class/net/{E810_0}/device/sriov_numvfs", "4")
    host.write(f"class/net/{CX6_0}/device/sriov_numvfs", "2")
    host.write(f"class/net/{E810_1}/device/sriov_drivers_autoprobe", "0")
    host.write(f"bus/pci/devices/{HELD_VF}/driver_override", "vfio-pci")
    host.write("bus/pci/drivers_probe", str(HELD_VF))
    host.hold_vf(HELD_VF, "qemu-kvm (4242)")
    host.set_vf(
        E810_0,
        1,
        mac=MacAddress.parse("fa:16:3e:00:00:01"),
        vlan=VlanTag(100, 3, VlanProto.DOT1AD),
        rate=TxRate(1000, 5000),
        spoofchk=False,
        trust=True,
        link_state=LinkState.DISABLE,
    )
    host.set_vf(CX6_0, 1, mac=MacAddress.parse("fa:16:3e:00:00:02"), vlan=VlanTag(200))
    host.fdb_add(E810_0, MacAddress.parse("fa:16:3e:00:00:03"))
    host.fdb_add(E810_0, MacAddress.parse("01:00:5e:00:00:fb"))
    host.set_link(f"{CX6_0}v0", up=True)
    host.set_link(E810_1, up=False)
    host.write("bus/pci/drivers/mlx5_core/unbind", "0000:98:00.1")
    return host


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "host.json"


def test_a_saved_host_loads_back_the_same(path: Path) -> None:
    host = used_host()
    state.save(host, path, profile_ref=PROFILE)
    loaded = state.load(path, profile_ref=PROFILE)
    assert everything(loaded) == everything(host)


def test_the_saved_state_holds_what_was_done(path: Path) -> None:
    state.save(used_host(), path, profile_ref=PROFILE)
    loaded = state.load(path, profile_ref=PROFILE)
    vf = loaded.link(E810_0).vfs[1]
    assert vf.vlan == VlanTag(100, 3, VlanProto.DOT1AD)
    assert (vf.rate, vf.spoofchk, vf.trust, vf.link_state) == (
        TxRate(1000, 5000),
        False,
        True,
        LinkState.DISABLE,
    )
    assert loaded.readlink(f"bus/pci/devices/{HELD_VF}/driver").endswith("/vfio-pci")
    assert loaded.read(f"class/net/{E810_1}/device/sriov_drivers_autoprobe") == "0\n"
    assert loaded.link(f"{CX6_0}v0").admin_up
    assert not loaded.link(E810_1).admin_up
    assert not loaded.exists(f"class/net/{CX6_1}")
    assert MacAddress.parse("fa:16:3e:00:00:03") in {e.mac for e in loaded.fdb_list(E810_0)}


def test_a_loaded_host_goes_on_as_the_saved_one_would(path: Path) -> None:
    host = used_host()
    state.save(host, path, profile_ref=PROFILE)
    loaded = state.load(path, profile_ref=PROFILE)
    for kernel in (host, loaded):
        # The guest still holds its VF: removing the VFs blocks until it lets go.
        with pytest.raises(KernelError) as exc:
            kernel.write(f"class/net/{E810_0}/device/sriov_numvfs", "0")
        assert exc.value.errno == errno.ETIMEDOUT
        kernel.release_vf(HELD_VF)
        kernel.write(f"class/net/{E810_0}/device/sriov_numvfs", "0")
        kernel.write("bus/pci/drivers/mlx5_core/bind", "0000:98:00.1")
        kernel.write(f"class/net/{CX6_1}/device/sriov_numvfs", "1")
    assert everything(loaded) == everything(host)  # same timestamps, ifindexes, iommu groups


def test_saving_twice_replaces_the_file_and_leaves_no_temporary_files(path: Path) -> None:
    host = boot(PROFILE)
    state.save(host, path, profile_ref=PROFILE)
    host.set_link(E810_0, up=False)
    state.save(host, path, profile_ref=PROFILE)
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert not state.load(path, profile_ref=PROFILE).link(E810_0).admin_up


def test_loading_a_missing_file_boots_the_profile_fresh(path: Path) -> None:
    loaded = state.load(path, profile_ref="talk-after")
    assert everything(loaded) == everything(boot("talk-after"))
    assert not path.parent.exists()  # loading writes nothing


def refused(path: Path, text: str, *, profile_ref: str = PROFILE) -> InvalidInput:
    """Load a state file holding ``text``; it must be refused naming the file and kept as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as exc:
        state.load(path, profile_ref=profile_ref)
    assert str(path) in str(exc.value)
    assert path.read_text(encoding="utf-8") == text
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    return exc.value


def test_a_state_file_of_another_profile_is_refused(path: Path) -> None:
    state.save(boot("talk-after"), path, profile_ref="talk-after")
    error = refused(path, path.read_text(encoding="utf-8"), profile_ref=PROFILE)
    assert "talk-after" in str(error)


@pytest.mark.parametrize("text", ["", "not json {", "\x00\x01"])
def test_a_file_that_is_not_json_is_refused(path: Path, text: str) -> None:
    refused(path, text)


def test_a_file_that_is_not_utf8_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"profile": "\xff"}')
    with pytest.raises(InvalidInput) as exc:
        state.load(path, profile_ref=PROFILE)
    assert str(path) in str(exc.value)
    assert path.read_bytes() == b'{"profile": "\xff"}'


def saved(**changes: Any) -> str:
    """A real snapshot of the used host with top-level keys replaced."""
    data = state.snapshot(used_host(), profile_ref=PROFILE)
    data.update(changes)
    return json.dumps(data)


def with_pf(**changes: Any) -> str:
    """A real snapshot whose first PF entry has keys replaced."""
    data = state.snapshot(used_host(), profile_ref=PROFILE)
    data["pfs"][0].update(changes)
    return json.dumps(data)


def with_vf_config(**changes: Any) -> str:
    """A real snapshot whose first PF's second VF has config keys replaced."""
    data = state.snapshot(used_host(), profile_ref=PROFILE)
    data["pfs"][0]["vfs"][1]["config"].update(changes)
    return json.dumps(data)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[]", id="a list"),
        pytest.param('"host"', id="a string"),
        pytest.param(json.dumps({"profile": PROFILE}), id="only a profile"),
        pytest.param(json.dumps({"profile": PROFILE, "format": 1}), id="keys missing"),
        pytest.param(saved(format=2), id="another format"),
        pytest.param(saved(uptime="soon"), id="uptime not a number"),
        pytest.param(saved(netdevs=7), id="netdevs not a list"),
        pytest.param(saved(pfs=[1]), id="pf not an object"),
        pytest.param(saved(pfs={"0000:17:00.0": {}}), id="pfs an object"),
        pytest.param(with_pf(address="0000:99:00.0"), id="pf the profile lacks"),
        pytest.param(with_pf(address="nowhere"), id="pf address not an address"),
        pytest.param(with_pf(address=17), id="pf address a number"),
        pytest.param(with_pf(fdb=["fa:16:3e"]), id="fdb mac too short"),
        pytest.param(with_pf(vfs=[{"index": 0}]), id="vf keys missing"),
        pytest.param(with_vf_config(link_state=9), id="unknown link state"),
        pytest.param(with_vf_config(vlan=5000), id="vlan out of range"),
        pytest.param(with_vf_config(mac="01:00:5e:00:00:01"), id="multicast vf mac"),
        pytest.param(with_vf_config(max_tx_rate=-1), id="negative rate"),
    ],
)
def test_a_json_file_of_the_wrong_shape_is_refused(path: Path, text: str) -> None:
    refused(path, text)
