"""SimulatedKernel: the kernel's SR-IOV sysfs and rtnetlink ABI and the NIC behind it, in memory.

It answers the same calls as ``LinuxKernel`` with the same file formats, symlinks and errno
values, applying the kernel's rules in the kernel's order (reference: linux-sriov.md §1-§2).
Simplification, on purpose: where the real kernel would block forever (removing a VF that a
guest holds open through vfio), the simulated call fails with ETIMEDOUT and changes nothing.
"""

from __future__ import annotations

import errno
import hashlib
from dataclasses import replace

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.errors import KernelError, NotFound
from sriovstack.domain.kernelparams import module_name, module_names
from sriovstack.domain.observed import FdbEntry, ObservedLink, ObservedVF
from sriovstack.domain.vfconfig import LinkState, TxRate, VFConfig, VlanProto, VlanTag
from sriovstack.simulator import rendering
from sriovstack.simulator.assembly import Assembly
from sriovstack.simulator.booting import BootedHost, boot, stamp
from sriovstack.simulator.devices import SimNetdev, SimPF, SimVF
from sriovstack.simulator.profiles import HostProfile
from sriovstack.simulator.sysfs import Attr, Dir, Link, Store, Tree

VFIO = "vfio-pci"
_MULTICAST_DEFAULTS = (MacAddress.parse("33:33:00:00:00:01"), MacAddress.parse("01:00:5e:00:00:01"))
_OVERRIDE_MAX = 4095  # PAGE_SIZE - 1: longer driver_override strings are refused with EINVAL


class SimulatedKernel:
    """A booted simulated host; mutate it only through the Kernel calls (and guest hold/release)."""

    def __init__(self, profile: HostProfile, *, uptime: Uptime | None = None) -> None:
        self.profile = profile
        self.host: BootedHost = boot(profile)
        self.uptime = uptime or Uptime(30.0)
        self.log_lines: list[str] = list(self.host.log)
        self.next_ifindex = 1
        self.next_group = 0
        lo = self._new_netdev("lo", MacAddress.zero())
        lo.admin_up = True
        self.netdevs: dict[str, SimNetdev] = {"lo": lo}
        self.modules: set[str] = {"vfio_pci"}
        self.pfs: dict[PciAddress, SimPF] = {}
        for booted in self.host.pfs:
            driver = booted.card.model.pf_driver
            self.modules.add(module_name(driver))
            netdev = self._new_netdev(booted.function.ifname, booted.function.mac)
            netdev.admin_up = profile.pf_links_up
            self.netdevs[netdev.ifname] = netdev
            self.pfs[booted.address] = SimPF(
                boot=booted, netdev=netdev, driver=driver, iommu_group=self._allocate_group()
            )
        self.assembly = Assembly()
        self._stale = True
        self._writes = _Writes(self)
        self.calls: dict[str, int] = {}

    # -- bookkeeping -----------------------------------------------------------------------
    def _allocate_group(self) -> int | None:
        if not self.host.iommu:
            return None
        self.next_group += 1
        return self.next_group + 10  # groups below are taken by the chipset's own devices

    def _new_netdev(self, ifname: str, mac: MacAddress) -> SimNetdev:
        netdev = SimNetdev(ifindex=self.next_ifindex, ifname=ifname, mac=mac)
        self.next_ifindex += 1
        return netdev

    def _say(self, text: str) -> None:
        self.log_lines.append(stamp(self.uptime.tick(), text))

    def changed(self) -> None:
        """Note a state change; the tree catches up on its next use."""
        self._stale = True

    def _count(self, call: str) -> None:
        self.calls[call] = self.calls.get(call, 0) + 1

    def tree(self) -> Tree:
        """The sysfs tree for the current state; only pieces whose inputs changed are redrawn."""
        if self._stale:
            self.assembly.update(rendering.pieces(*self._render_args()))
            self._stale = False
        return self.assembly.tree

    def fresh_tree(self) -> Tree:
        """The tree rendered from scratch: what ``tree()`` must always equal."""
        return rendering.render(*self._render_args())

    def _render_args(
        self,
    ) -> tuple[BootedHost, list[SimPF], SimNetdev | None, set[str], set[str], _Writes]:
        drivers = {VFIO} | {pf.model.pf_driver for pf in self.pfs.values()}
        drivers |= {
            pf.model.vf_driver
            for pf in self.pfs.values()
            if module_name(pf.model.vf_driver) in self.modules
        }
        pfs = list(self.pfs.values())
        return self.host, pfs, self.netdevs.get("lo"), self.modules, drivers, self._writes

    # -- sysfs -----------------------------------------------------------------------------
    def read(self, path: str) -> str:
        self._count("read")
        node, _ = self.tree().lookup(path, op="read")
        if isinstance(node, Dir):
            raise KernelError(errno.EISDIR, "read", path)
        assert isinstance(node, Attr)
        if node.error is not None:
            raise KernelError(node.error, "read", path)
        if node.text is None:
            raise KernelError(errno.EACCES, "read", path)
        return node.text

    def write(self, path: str, value: str) -> None:
        self._count("write")
        node, _ = self.tree().lookup(path, op="write")
        if isinstance(node, Dir):
            raise KernelError(errno.EISDIR, "write", path)
        assert isinstance(node, Attr)
        if node.store is None:
            raise KernelError(errno.EACCES, "write", path)
        try:
            node.store(value)
        except KernelError as exc:
            raise KernelError(exc.errno, "write", path, exc.detail) from None
        finally:
            self.changed()

    def listdir(self, path: str) -> list[str]:
        self._count("listdir")
        node, _ = self.tree().lookup(path, op="listdir")
        if not isinstance(node, Dir):
            raise KernelError(errno.ENOTDIR, "listdir", path)
        return sorted(node.children)

    def readlink(self, path: str) -> str:
        self._count("readlink")
        node, _ = self.tree().lookup(path, follow_last=False, op="readlink")
        if not isinstance(node, Link):
            raise KernelError(errno.EINVAL, "readlink", path)
        return node.target

    def exists(self, path: str) -> bool:
        self._count("exists")
        try:
            self.tree().lookup(path, op="stat")
        except KernelError:
            return False
        return True

    def is_link(self, path: str) -> bool:
        self._count("is_link")
        try:
            node, _ = self.tree().lookup(path, follow_last=False, op="lstat")
        except KernelError:
            return False
        return isinstance(node, Link)

    # -- rtnetlink -------------------------------------------------------------------------
    def links(self) -> list[ObservedLink]:
        self._count("links")
        return [
            self._observe(n, with_vfs=False)
            for n in sorted(self.netdevs.values(), key=lambda n: n.ifindex)
        ]

    def link(self, ifname: str) -> ObservedLink:
        self._count("link")
        return self._observe(self._netdev(ifname, "getlink"), with_vfs=True)

    def _netdev(self, ifname: str, op: str) -> SimNetdev:
        netdev = self.netdevs.get(ifname)
        if netdev is None:
            raise KernelError(errno.ENODEV, op, ifname)
        return netdev

    def _pf_of(self, netdev: SimNetdev) -> SimPF | None:
        return next((pf for pf in self.pfs.values() if pf.netdev is netdev), None)

    def _vf_of(self, netdev: SimNetdev) -> tuple[SimPF, SimVF] | None:
        for pf in self.pfs.values():
            for vf in pf.vfs:
                if vf.netdev is netdev:
                    return pf, vf
        return None

    def _observe(self, netdev: SimNetdev, *, with_vfs: bool) -> ObservedLink:
        pf = self._pf_of(netdev)
        owner = self._vf_of(netdev)
        carrier = netdev.admin_up and self._carrier(netdev, pf, owner)
        num_vfs: int | None = None
        vfs: tuple[ObservedVF, ...] = ()
        if with_vfs and pf is not None:
            num_vfs = len(pf.vfs)
            vfs = tuple(_observed_vf(pf, vf) for vf in pf.vfs)
        elif with_vfs and owner is not None:
            num_vfs = 0  # a VF is a PCI device too: the kernel reports it has no VFs of its own
        return ObservedLink(
            index=netdev.ifindex,
            ifname=netdev.ifname,
            mac=netdev.mac,
            admin_up=netdev.admin_up,
            carrier=carrier,
            mtu=netdev.mtu,
            num_vfs=num_vfs,
            vfs=vfs,
        )

    def _carrier(
        self, netdev: SimNetdev, pf: SimPF | None, owner: tuple[SimPF, SimVF] | None
    ) -> bool:
        if owner is not None:
            pf, vf = owner
            return pf.vf_link_up(vf)
        if pf is not None:
            return pf.carrier
        return True  # lo and virtual devices have no cable

    def set_vf(
        self,
        ifname: str,
        index: int,
        *,
        mac: MacAddress | None = None,
        vlan: VlanTag | None = None,
        spoofchk: bool | None = None,
        trust: bool | None = None,
        link_state: LinkState | None = None,
        rate: TxRate | None = None,
    ) -> None:
        self._count("set_vf")
        netdev = self._netdev(ifname, "setlink")
        pf = self._pf_of(netdev)
        if pf is None:
            raise KernelError(
                errno.EOPNOTSUPP, "setlink", ifname, "no VF operations on this device"
            )
        if not 0 <= index < len(pf.vfs):
            raise KernelError(errno.EINVAL, "setlink", ifname, f"vf {index} does not exist")
        vf = pf.vfs[index]
        try:
            # do_setvfinfo's fixed order; the first failure stops it and keeps what went before.
            if mac is not None:
                self._set_vf_mac(pf, vf, mac)
            if vlan is not None:
                self._set_vf_vlan(pf, vf, vlan)
            if rate is not None:
                self._set_vf_rate(pf, vf, rate)
            if spoofchk is not None:
                vf.config = replace(vf.config, spoofchk=spoofchk)
            if link_state is not None:
                vf.config = replace(vf.config, link_state=link_state)
            if trust is not None:
                vf.config = replace(vf.config, trust=trust)
                if pf.model.pf_driver == "ixgbe":
                    self._say(f"ixgbe {pf.address}: VF {index} is {'' if trust else 'not '}trusted")
        finally:
            self.changed()

    def _set_vf_mac(self, pf: SimPF, vf: SimVF, mac: MacAddress) -> None:
        if mac.is_multicast:
            raise KernelError(errno.EINVAL, "setlink", pf.netdev_name, "multicast MAC")
        if not mac.is_zero and vf.config.mac.is_zero and self._mac_table_full(pf):
            raise KernelError(errno.ENOMEM, "setlink", pf.netdev_name, "no free MAC filter entry")
        vf.config = replace(vf.config, mac=mac)
        driver = pf.model.pf_driver
        self._say(f"{driver} {pf.address}: setting MAC {mac} on VF {vf.index}")
        if vf.netdev is not None:
            self._say(f"{driver} {pf.address}: Reload the VF driver to make this change effective.")
        if not pf.carrier:
            self._say(
                f"{driver} {pf.address}: The VF MAC address has been set, but the PF device "
                "is not up."
            )
            self._say(
                f"{driver} {pf.address}: Bring the PF device up before attempting to use "
                "the VF device."
            )

    def _set_vf_vlan(self, pf: SimPF, vf: SimVF, vlan: VlanTag) -> None:
        name = pf.netdev_name
        if not 0 <= vlan.vlan <= 4095 or not 0 <= vlan.qos <= 7:
            raise KernelError(errno.EINVAL, "setlink", name, "vlan must be 0..4095 and qos 0..7")
        if vlan.proto is VlanProto.DOT1AD and not pf.model.supports_8021ad:
            raise KernelError(errno.EPROTONOSUPPORT, "setlink", name, "802.1ad port VLANs")
        if vlan.vlan and pf.model.vlan_filters_shared:
            used = {v.config.vlan.vlan for v in pf.vfs if v.config.vlan.vlan and v is not vf}
            if vlan.vlan not in used and len(used) >= pf.model.vlan_filters:
                # The shared VLVF table has no free slot (the driver's "no space" code).
                raise KernelError(errno.ENOSPC, "setlink", name, "no free VLAN filter entry")
        vf.config = replace(vf.config, vlan=vlan)
        self._say(
            f"{pf.model.pf_driver} {pf.address}: Setting VLAN {vlan.vlan}, QOS {vlan.qos:#x} "
            f"on VF {vf.index}"
        )
        if not pf.carrier:
            self._say(
                f"{pf.model.pf_driver} {pf.address}: The VF VLAN has been set, but the PF "
                "device is not up."
            )

    def _set_vf_rate(self, pf: SimPF, vf: SimVF, rate: TxRate) -> None:
        name = pf.netdev_name
        if rate.max_mbps and rate.max_mbps < rate.min_mbps:
            raise KernelError(errno.EINVAL, "setlink", name, "max_tx_rate below min_tx_rate")
        if rate.min_mbps and not pf.model.supports_min_rate:
            raise KernelError(
                errno.EINVAL, "setlink", name, f"{pf.model.pf_driver} does not support min_tx_rate"
            )
        if rate.max_mbps > pf.model.link_speed_mbps:
            raise KernelError(
                errno.EINVAL,
                "setlink",
                name,
                f"max_tx_rate above the link speed ({pf.model.link_speed_mbps} Mbps)",
            )
        vf.config = replace(vf.config, rate=rate)

    def _mac_filters_used(self, pf: SimPF) -> int:
        unicast_fdb = sum(1 for m in pf.fdb if not m.is_multicast)
        if pf.model.mac_filters_shared:
            return 1 + sum(1 for v in pf.vfs if not v.config.mac.is_zero) + unicast_fdb
        return 1 + unicast_fdb

    def _mac_table_full(self, pf: SimPF) -> bool:
        return self._mac_filters_used(pf) >= pf.model.mac_filters

    def set_link(self, ifname: str, *, up: bool) -> None:
        self._count("set_link")
        netdev = self._netdev(ifname, "setlink")
        if netdev.admin_up == up:
            return
        netdev.admin_up = up
        pf = self._pf_of(netdev)
        if pf is not None:
            self._say(
                f"{pf.model.pf_driver} {pf.address} {ifname}: NIC Link is "
                + (f"Up {pf.model.link_speed_mbps // 1000} Gbps" if up else "Down")
            )
            if up:
                for vf in pf.vfs:
                    if vf.netdev is not None and vf.netdev.mac.is_zero:
                        # The VF driver's reset now succeeds and it learns its MAC from the PF.
                        vf.netdev.mac = self._vf_mac(pf, vf)
        self.changed()

    def fdb_add(self, ifname: str, mac: MacAddress) -> None:
        self._count("fdb_add")
        netdev = self._netdev(ifname, "fdb add")
        if mac.is_zero:
            raise KernelError(errno.EINVAL, "fdb add", ifname, "zero MAC")
        pf = self._pf_of(netdev)
        entries = pf.fdb if pf is not None else []
        if mac in entries or (pf is not None and mac in self._default_multicast(pf)):
            raise KernelError(errno.EEXIST, "fdb add", ifname)
        if pf is None:
            raise KernelError(errno.EOPNOTSUPP, "fdb add", ifname, "device keeps no unicast list")
        if not mac.is_multicast and self._mac_table_full(pf):
            raise KernelError(errno.ENOMEM, "fdb add", ifname, "no free MAC filter entry")
        pf.fdb.append(mac)

    def fdb_del(self, ifname: str, mac: MacAddress) -> None:
        self._count("fdb_del")
        netdev = self._netdev(ifname, "fdb del")
        pf = self._pf_of(netdev)
        if pf is None or mac not in pf.fdb:
            raise KernelError(errno.ENOENT, "fdb del", ifname)
        pf.fdb.remove(mac)

    def fdb_list(self, ifname: str) -> list[FdbEntry]:
        self._count("fdb_list")
        netdev = self._netdev(ifname, "fdb dump")
        pf = self._pf_of(netdev)
        if pf is None:
            return []
        defaults = self._default_multicast(pf)
        # An address in the list twice (added while down, then joined by the stack on up) is
        # one refcounted entry, and the dump shows it once.
        macs = [*defaults, *(m for m in pf.fdb if m not in defaults)]
        return [FdbEntry(ifname=ifname, mac=m) for m in macs]

    def _default_multicast(self, pf: SimPF) -> tuple[MacAddress, ...]:
        return _MULTICAST_DEFAULTS if pf.carrier else ()

    # -- boot-time facts -------------------------------------------------------------------
    def cmdline(self) -> str:
        return self.profile.cmdline

    def log(self) -> list[str]:
        return list(self.log_lines)

    def blacklisted_modules(self) -> frozenset[str]:
        return module_names(self.profile.blacklist) | self.host.cmdline.blacklist

    # -- the hypervisor's side: a guest holding a VF open through vfio ----------------------
    def hold_vf(self, address: PciAddress, holder: str) -> None:
        """A guest opens the VF's vfio device; it must be bound to vfio-pci."""
        _, vf = self.find_vf(address)
        if vf.driver != VFIO:
            raise KernelError(
                errno.ENODEV, "open vfio", str(address), "the VF is not bound to vfio-pci"
            )
        if vf.held_by is not None:
            raise KernelError(errno.EBUSY, "open vfio", str(address), f"held by {vf.held_by}")
        vf.held_by = holder

    def release_vf(self, address: PciAddress) -> None:
        _, vf = self.find_vf(address)
        vf.held_by = None

    def find_vf(self, address: PciAddress) -> tuple[SimPF, SimVF]:
        for pf in self.pfs.values():
            for vf in pf.vfs:
                if vf.address == address:
                    return pf, vf
        raise NotFound("VF", address)

    # -- the sysfs write handlers ----------------------------------------------------------
    def store_numvfs(self, pf: SimPF, text: str) -> None:
        num = _kstrtou16(text)
        if num > pf.total_vfs:
            raise KernelError(errno.ERANGE, "write", "sriov_numvfs")
        current = len(pf.vfs)
        if num == current:
            return
        if pf.driver is None:
            self._say(f"pci {pf.address}: no driver bound to device; cannot configure SR-IOV")
            raise KernelError(errno.ENOENT, "write", "sriov_numvfs")
        if num == 0:
            self._disable_vfs(pf)
            return
        if current:
            self._say(
                f"{pf.driver} {pf.address}: {current} VFs already enabled. "
                f"Disable before enabling {num} VFs"
            )
            raise KernelError(errno.EBUSY, "write", "sriov_numvfs")
        self._enable_vfs(pf, num)

    def _enable_vfs(self, pf: SimPF, num: int) -> None:
        driver = pf.driver
        if not pf.boot.vf_bars_assigned:
            self._say(f"{driver} {pf.address}: not enough MMIO resources for SR-IOV")
            self._say(f"{driver} {pf.address}: Failed to enable PCI sriov: -12")
            raise KernelError(errno.ENOMEM, "write", "sriov_numvfs", "VF BARs are not assigned")
        bridge = pf.boot.bridge
        last_bus = pf.boot.vf_address(num - 1).bus
        if last_bus > bridge.subordinate_bus:
            span = (
                f"[bus {bridge.secondary_bus:02x}]"
                if bridge.secondary_bus == bridge.subordinate_bus
                else f"[bus {bridge.secondary_bus:02x}-{bridge.subordinate_bus:02x}]"
            )
            self._say(
                f"{driver} {pf.address}: can't enable {num} VFs (bus {last_bus:02x} out of "
                f"range of {span})"
            )
            self._say(f"{driver} {pf.address}: Failed to enable PCI sriov: -12")
            raise KernelError(
                errno.ENOMEM,
                "write",
                "sriov_numvfs",
                f"VF bus {last_bus:02x} is outside the bridge's {span}",
            )
        model = pf.model
        for index in range(num):
            vf = SimVF(
                index=index,
                address=pf.boot.vf_address(index),
                config=_clean_for(pf),
                iommu_group=self._allocate_group(),
            )
            pf.vfs.append(vf)
            self._say(
                f"pci {vf.address}: [{model.vendor_id:04x}:{model.vf_device_id:04x}] "
                "type 00 class 0x020000"
            )
            if vf.iommu_group is not None:
                self._say(f"pci {vf.address}: Adding to iommu group {vf.iommu_group}")
        self._say(f"{driver} {pf.address} {pf.netdev_name}: SR-IOV enabled with {num} VFs")
        if module_name(model.vf_driver) not in self.blacklisted_modules():
            # udev loads the VF driver's module by modalias whether or not it may then probe.
            self.modules.add(module_name(model.vf_driver))
        if pf.autoprobe:
            for vf in pf.vfs:
                self._autobind(pf, vf)

    def _autobind(self, pf: SimPF, vf: SimVF) -> None:
        """Probe a new VF: driver_override first, else the host VF driver unless blacklisted."""
        if vf.driver_override is not None:
            self._probe(pf, vf, vf.driver_override)
            return
        vf_driver = pf.model.vf_driver
        if module_name(vf_driver) in self.blacklisted_modules() and vf_driver != pf.model.pf_driver:
            return  # udev asks modprobe for the module; modprobe refuses a blacklisted one
        self._probe(pf, vf, vf_driver)

    def _probe(self, pf: SimPF, vf: SimVF, driver: str) -> bool:
        if driver == VFIO and not self.host.iommu:
            self._say(f"vfio-pci: probe of {vf.address} failed with error -22")
            return False
        if driver not in (VFIO, pf.model.vf_driver):
            return False
        if driver != VFIO and module_name(driver) not in self.modules:
            # driver_override never loads a module: a blacklisted VF driver is simply absent.
            return False
        vf.driver = driver
        if driver != VFIO:
            self._attach_vf_netdev(pf, vf)
        return True

    def _attach_vf_netdev(self, pf: SimPF, vf: SimVF) -> None:
        name = f"{pf.netdev_name}v{vf.index}"
        netdev = self._new_netdev(name, MacAddress.zero())
        if pf.carrier:
            netdev.mac = self._vf_mac(pf, vf)
        else:
            self._say(
                f"{pf.model.vf_driver} {vf.address}: PF still in reset state.  "
                "Is the PF interface up?"
            )
        self.netdevs[name] = netdev
        vf.netdev = netdev

    def _vf_mac(self, pf: SimPF, vf: SimVF) -> MacAddress:
        """The admin MAC if the host set one, else the random one the PF driver makes up."""
        if not vf.config.mac.is_zero:
            return vf.config.mac
        digest = hashlib.sha256(f"{self.profile.hostname}/{vf.address}".encode()).digest()
        raw = bytearray(digest[:6])
        raw[0] = (raw[0] & 0xFE) | 0x02  # unicast, locally administered
        return MacAddress(int.from_bytes(raw, "big"))

    def _disable_vfs(self, pf: SimPF) -> None:
        held = [vf for vf in pf.vfs if vf.held_by is not None]
        if held:
            vf = held[0]
            self._say(f"vfio-pci {vf.address}: Relaying device request to user (#0)")
            raise KernelError(
                errno.ETIMEDOUT,
                "write",
                "sriov_numvfs",
                f"blocked: {vf.address} is held by {vf.held_by}",
            )
        for vf in pf.vfs:
            self._detach(vf)
        pf.vfs.clear()
        self._say(
            f"{pf.driver} {pf.address}: IOV Disabled"
            if pf.driver == "ixgbe"
            else f"{pf.driver} {pf.address}: SR-IOV disabled"
        )

    def _detach(self, vf: SimVF) -> None:
        if vf.netdev is not None:
            self.netdevs.pop(vf.netdev.ifname, None)
            vf.netdev = None
        vf.driver = None

    def store_autoprobe(self, pf: SimPF, text: str) -> None:
        pf.autoprobe = _kstrtobool(text)

    def store_override(self, target: SimPF | SimVF, text: str) -> None:
        value = text[:-1] if text.endswith("\n") else text
        if len(value) >= _OVERRIDE_MAX:
            raise KernelError(errno.EINVAL, "write", "driver_override")
        target.driver_override = value or None

    def store_bind(self, driver: str, text: str) -> None:
        address = self._device_address(text)
        pf = self.pfs.get(address)
        if pf is not None:
            self._bind_pf(pf, driver)
            return
        owner, vf = self.find_vf_or_enodev(address)
        if vf.driver is not None:
            raise KernelError(errno.EBUSY, "write", "bind")
        if vf.driver_override is not None and vf.driver_override != driver:
            raise KernelError(errno.ENODEV, "write", "bind", "driver_override names another driver")
        if not owner.autoprobe and vf.driver_override is None:
            # Since v5.3 a VF of a PF with autoprobe off probes only through driver_override.
            raise KernelError(errno.ENODEV, "write", "bind")
        if driver == VFIO and vf.driver_override != VFIO:
            raise KernelError(
                errno.ENODEV, "write", "bind", "vfio-pci binds only by driver_override"
            )
        if not self._probe(owner, vf, driver):
            raise KernelError(errno.EINVAL if driver == VFIO else errno.ENODEV, "write", "bind")

    def _bind_pf(self, pf: SimPF, driver: str) -> None:
        if pf.driver is not None:
            raise KernelError(errno.EBUSY, "write", "bind")
        if driver != pf.model.pf_driver:
            raise KernelError(errno.ENODEV, "write", "bind")
        pf.driver = driver
        netdev = self._new_netdev(pf.boot.function.ifname, pf.boot.function.mac)
        self.netdevs[netdev.ifname] = netdev
        pf.netdev = netdev

    def store_unbind(self, driver: str, text: str) -> None:
        address = self._device_address(text)
        pf = self.pfs.get(address)
        if pf is not None:
            if pf.driver != driver:
                raise KernelError(errno.ENODEV, "write", "unbind")
            self._disable_vfs(pf)
            pf.driver = None
            if pf.netdev is not None:
                self.netdevs.pop(pf.netdev.ifname, None)
                pf.netdev = None
            pf.fdb.clear()  # the entries lived in the netdev's unicast list, gone with it
            return
        _, vf = self.find_vf_or_enodev(address)
        if vf.driver != driver:
            raise KernelError(errno.ENODEV, "write", "unbind")
        if vf.held_by is not None:
            self._say(f"vfio-pci {vf.address}: Relaying device request to user (#0)")
            raise KernelError(errno.ETIMEDOUT, "write", "unbind", f"held by {vf.held_by}")
        self._detach(vf)

    def store_drivers_probe(self, text: str) -> None:
        address = self._device_address(text)
        pf = self.pfs.get(address)
        if pf is not None:
            return
        owner, vf = self.find_vf_or_enodev(address)
        if vf.driver is not None:
            return
        if vf.driver_override is not None:
            self._probe(owner, vf, vf.driver_override)
        elif owner.autoprobe:
            self._autobind(owner, vf)

    def _device_address(self, text: str) -> PciAddress:
        try:
            return PciAddress.parse(text.strip())
        except Exception:
            raise KernelError(errno.ENODEV, "write", text.strip()) from None

    def find_vf_or_enodev(self, address: PciAddress) -> tuple[SimPF, SimVF]:
        try:
            return self.find_vf(address)
        except NotFound:
            raise KernelError(errno.ENODEV, "write", str(address)) from None


class _Writes:
    """Adapts the kernel's store handlers to the tree renderer."""

    def __init__(self, kernel: SimulatedKernel) -> None:
        self.k = kernel

    def numvfs(self, pf: SimPF) -> Store:
        return lambda text: self.k.store_numvfs(pf, text)

    def autoprobe(self, pf: SimPF) -> Store:
        return lambda text: self.k.store_autoprobe(pf, text)

    def override(self, target: SimPF | SimVF) -> Store:
        return lambda text: self.k.store_override(target, text)

    def bind(self, driver: str) -> Store:
        return lambda text: self.k.store_bind(driver, text)

    def unbind(self, driver: str) -> Store:
        return lambda text: self.k.store_unbind(driver, text)

    def drivers_probe(self) -> Store:
        return self.k.store_drivers_probe


class Uptime:
    """A deterministic uptime clock: each log line comes a little after the previous one."""

    def __init__(self, now: float) -> None:
        self.now = now

    def tick(self) -> float:
        self.now += 0.004
        return self.now


def _observed_vf(pf: SimPF, vf: SimVF) -> ObservedVF:
    model = pf.model
    return ObservedVF(
        index=vf.index,
        mac=vf.config.mac,
        vlan=vf.config.vlan,
        spoofchk=vf.config.spoofchk if model.reports_spoofchk else None,
        trust=vf.config.trust if model.reports_trust else None,
        link_state=vf.config.link_state,
        rate=vf.config.rate,
    )


def _clean_for(pf: SimPF) -> VFConfig:
    return VFConfig(spoofchk=pf.model.spoofchk_default)


def _kstrtou16(text: str) -> int:
    """kstrtou16(buf, 0): decimal, 0x hex or leading-0 octal, one trailing newline; else EINVAL."""
    body = text[:-1] if text.endswith("\n") else text
    try:
        if body.lower().startswith("0x"):
            value = int(body[2:], 16)
        elif len(body) > 1 and body.startswith("0"):
            value = int(body[1:], 8)
        else:
            value = int(body, 10)
    except ValueError:
        raise KernelError(errno.EINVAL, "write", "sriov_numvfs") from None
    if not body or not body[0].isdigit() or value > 0xFFFF:
        raise KernelError(errno.EINVAL, "write", "sriov_numvfs")
    return value


def _kstrtobool(text: str) -> bool:
    """kstrtobool: decided by the first one or two characters (1/y/on, 0/n/off)."""
    head = text[:2].lower()
    if head[:1] in ("1", "y") or head == "on":
        return True
    if head[:1] in ("0", "n") or head == "of":
        return False
    raise KernelError(errno.EINVAL, "write", "sriov_drivers_autoprobe")
