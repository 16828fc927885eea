"""What the fabric sees of a PF's NIC: its link, its VFs, its MAC filter table and promiscuity."""

from __future__ import annotations

from dataclasses import dataclass

from sriovstack.domain.addresses import MacAddress, PciAddress
from sriovstack.domain.catalogue import NicModel
from sriovstack.domain.vfconfig import LinkState
from sriovstack.fabric.frames import vlan_text


@dataclass(frozen=True, slots=True)
class VfView:
    """One VF as its NIC acts on it.

    ``mac`` is the MAC it filters on and spoof-checks against (zero when it has none);
    ``vlan`` its port VLAN, None for none.
    """

    index: int
    address: PciAddress
    mac: MacAddress
    vlan: int | None
    spoofchk: bool
    link_state: LinkState
    netdev: str | None = None

    @property
    def disabled(self) -> bool:
        return self.link_state is LinkState.DISABLE


@dataclass(frozen=True, slots=True)
class FilterEntry:
    """One unicast MAC filter: whose it is, its VLAN (None: any), whether it got a slot.

    ``vf`` is the VF index of a VF's filter, None for the PF's own MAC and FDB entries.
    """

    mac: MacAddress
    vlan: int | None
    owner: str
    slot: bool = True
    vf: int | None = None

    @property
    def fdb(self) -> bool:
        return self.owner == "FDB"

    def __str__(self) -> str:
        where = "" if self.vlan is None else f" on VLAN {self.vlan}"
        lost = "" if self.slot else " (no slot: table full)"
        return f"{self.mac}{where} -> {self.owner}{lost}"


@dataclass(frozen=True, slots=True)
class NicView:
    """A PF's port at one moment, as its embedded switch (VEB) acts on it.

    ``filters`` lists the unicast MAC filters in the order the driver writes them: the PF's
    own MAC, each VF's MAC with its port VLAN, then the PF's FDB entries. ``used`` counts the
    entries that draw on the table of ``capacity`` (on NICs whose VFs have their own
    allowance, VF MACs do not); entries past the capacity get no slot.
    """

    host: str
    pf: str
    address: PciAddress
    model: NicModel
    mac: MacAddress
    up: bool
    down_reason: str
    vfs: tuple[VfView, ...]
    filters: tuple[FilterEntry, ...]
    used: int
    bridge: str | None = None

    @property
    def name(self) -> str:
        return f"{self.pf} ({self.host})"

    @property
    def capacity(self) -> int:
        return self.model.mac_filters

    @property
    def overflowed(self) -> bool:
        return self.used > self.capacity

    @property
    def promiscuous(self) -> tuple[str, ...]:
        """Why the PF takes unicast frames from the wire that match no filter, if it does."""
        reasons: list[str] = []
        if self.bridge is not None:
            # Open vSwitch sets IFF_PROMISC on every port it adds (vport-netdev).
            reasons.append(f"promiscuous (an Open vSwitch port of {self.bridge})")
        if self.overflowed:
            # ixgbe and igb fall back to unicast promiscuous when the uc list does not fit.
            reasons.append(
                f"unicast promiscuous (filter table overflow: {self.used} addresses for "
                f"{self.capacity} entries)"
            )
        return tuple(reasons)

    def vf(self, index: int) -> VfView | None:
        return next((v for v in self.vfs if v.index == index), None)

    def filters_for(self, mac: MacAddress) -> tuple[FilterEntry, ...]:
        """Every entry for ``mac``, with a slot or not."""
        return tuple(e for e in self.filters if e.mac == mac)

    def describe(self) -> str:
        """The port's state and its filter table, one line each."""
        state = "up" if self.up else self.down_reason
        lines = [
            f"{self.name}: {self.model.name}, {state}, {len(self.vfs)} VFs, "
            f"{self.used} of {self.capacity} unicast MAC filters"
            + ("" if self.model.mac_filters_shared else " (VFs have their own)")
        ]
        lines += [f"  promiscuous: {p}" for p in self.promiscuous]
        lines += [f"  filter {entry}" for entry in self.filters]
        for vf in self.vfs:
            flags = [vlan_text(vf.vlan), f"spoofchk {'on' if vf.spoofchk else 'off'}"]
            flags.append(f"link-state {vf.link_state}")
            lines.append(f"  VF {vf.index} {vf.address} mac {vf.mac} " + ", ".join(flags))
        return "\n".join(lines)
