"""Save and load a simulated host's runtime state, so successive commands see the same host."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import InvalidInput
from sriovstack.domain.vfconfig import LinkState, TxRate, VFConfig, VlanProto, VlanTag
from sriovstack.simulator.devices import SimNetdev, SimVF
from sriovstack.simulator.kernel import SimulatedKernel, Uptime
from sriovstack.simulator.profiles import HostProfile, load_profile

FORMAT = 1


def snapshot(kernel: SimulatedKernel, *, profile_ref: str) -> dict[str, Any]:
    """The runtime state as plain JSON data."""
    return {
        "format": FORMAT,
        "profile": profile_ref,
        "cmdline": kernel.profile.cmdline,
        "uptime": kernel.uptime.now,
        "log": kernel.log_lines,
        "ifindex": kernel.next_ifindex,
        "group": kernel.next_group,
        "modules": sorted(kernel.modules),
        "netdevs": [_netdev(n) for n in kernel.netdevs.values() if _is_top(kernel, n)],
        "pfs": [
            {
                "address": str(pf.address),
                "driver": pf.driver,
                "driver_override": pf.driver_override,
                "autoprobe": pf.autoprobe,
                "netdev": pf.netdev.ifname if pf.netdev else None,
                "iommu_group": pf.iommu_group,
                "fdb": [str(m) for m in pf.fdb],
                "vfs": [_vf(vf) for vf in pf.vfs],
            }
            for pf in kernel.pfs.values()
        ],
    }


def _is_top(kernel: SimulatedKernel, netdev: SimNetdev) -> bool:
    return not any(vf.netdev is netdev for pf in kernel.pfs.values() for vf in pf.vfs)


def _netdev(n: SimNetdev) -> dict[str, Any]:
    return {
        "ifname": n.ifname,
        "ifindex": n.ifindex,
        "mac": str(n.mac),
        "admin_up": n.admin_up,
        "mtu": n.mtu,
    }


def _vf(vf: SimVF) -> dict[str, Any]:
    c = vf.config
    return {
        "index": vf.index,
        "address": str(vf.address),
        "driver": vf.driver,
        "driver_override": vf.driver_override,
        "iommu_group": vf.iommu_group,
        "held_by": vf.held_by,
        "netdev": _netdev(vf.netdev) if vf.netdev else None,
        "config": {
            "mac": str(c.mac),
            "vlan": c.vlan.vlan,
            "qos": c.vlan.qos,
            "proto": int(c.vlan.proto),
            "spoofchk": c.spoofchk,
            "trust": c.trust,
            "link_state": int(c.link_state),
            "min_tx_rate": c.rate.min_mbps,
            "max_tx_rate": c.rate.max_mbps,
        },
    }


def restore(
    data: dict[str, Any], *, profile: HostProfile | None = None, source: str = "state"
) -> SimulatedKernel:
    """Rebuild a kernel from ``snapshot`` data; bad data is refused naming the file."""
    if data.get("format") != FORMAT:
        raise InvalidInput(f"{source}: format", f"must be {FORMAT}", data.get("format"))
    try:
        base = profile or load_profile(data["profile"])
        kernel = SimulatedKernel(replace(base, cmdline=str(data["cmdline"])))
        _apply(kernel, data)
        return kernel
    except (KeyError, TypeError, ValueError, AttributeError, InvalidInput) as exc:
        # A value the domain refuses (a bad MAC, VLAN or PCI address) names only its own
        # field; the caller must learn which file holds it, like for a missing key.
        raise InvalidInput(source, f"is not a sriovstack simulator state file ({exc!r})") from None


def _apply(kernel: SimulatedKernel, data: dict[str, Any]) -> None:
    kernel.uptime = Uptime(float(data["uptime"]))
    kernel.log_lines = [str(line) for line in data["log"]]
    kernel.next_ifindex = int(data["ifindex"])
    kernel.next_group = int(data["group"])
    kernel.modules = set(data["modules"])
    kernel.netdevs = {}
    for n in data["netdevs"]:
        kernel.netdevs[n["ifname"]] = _load_netdev(n)
    for p in data["pfs"]:
        pf = kernel.pfs[PciAddress.parse(p["address"])]
        pf.driver = p["driver"]
        pf.driver_override = p["driver_override"]
        pf.autoprobe = bool(p["autoprobe"])
        pf.netdev = kernel.netdevs.get(p["netdev"]) if p["netdev"] else None
        pf.iommu_group = p["iommu_group"]
        pf.fdb = [MacAddress.parse(m) for m in p["fdb"]]
        pf.vfs = [_load_vf(v) for v in p["vfs"]]
        for vf in pf.vfs:
            if vf.netdev is not None:
                kernel.netdevs[vf.netdev.ifname] = vf.netdev
    kernel.changed()


def _load_netdev(n: dict[str, Any]) -> SimNetdev:
    return SimNetdev(
        ifindex=int(n["ifindex"]),
        ifname=str(n["ifname"]),
        mac=MacAddress.parse(n["mac"]),
        admin_up=bool(n["admin_up"]),
        mtu=int(n["mtu"]),
    )


def _load_vf(v: dict[str, Any]) -> SimVF:
    c = v["config"]
    config = VFConfig(
        mac=MacAddress.parse(c["mac"]),
        vlan=VlanTag(int(c["vlan"]), int(c["qos"]), VlanProto(int(c["proto"]))),
        spoofchk=bool(c["spoofchk"]),
        trust=bool(c["trust"]),
        link_state=LinkState(int(c["link_state"])),
        rate=TxRate(int(c["min_tx_rate"]), int(c["max_tx_rate"])),
    )
    return SimVF(
        index=int(v["index"]),
        address=PciAddress.parse(v["address"]),
        config=config,
        driver=v["driver"],
        driver_override=v["driver_override"],
        iommu_group=v["iommu_group"],
        held_by=v["held_by"],
        netdev=_load_netdev(v["netdev"]) if v["netdev"] else None,
    )


def load(path: Path, *, profile_ref: str) -> SimulatedKernel:
    """The host saved at ``path``, or a freshly booted ``profile_ref`` if there is none yet."""
    if not path.exists():
        return SimulatedKernel(load_profile(profile_ref))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bytes that are not UTF-8
        raise InvalidInput(str(path), f"is not a readable state file ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(str(path), "is not a sriovstack simulator state file")
    if data.get("profile") != profile_ref:
        raise InvalidInput(
            str(path),
            f"holds profile {data.get('profile')!r}, not {profile_ref!r}; "
            "use another --state file or `sriovstack sim reset`",
        )
    return restore(data, source=str(path))


def save(kernel: SimulatedKernel, path: Path, *, profile_ref: str) -> None:
    """Write the state atomically: a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(snapshot(kernel, profile_ref=profile_ref), indent=1)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
