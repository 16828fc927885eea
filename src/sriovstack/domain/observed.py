"""What a host's kernel was seen to report over rtnetlink: links, their VFs, FDB entries."""

from __future__ import annotations

from dataclasses import dataclass, field

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.vfconfig import LinkState, TxRate, VFConfig, VlanTag


@dataclass(frozen=True, slots=True)
class ObservedVF:
    """One VF as its PF's driver reports it; ``None`` where the driver does not report a field."""

    index: int
    mac: MacAddress
    vlan: VlanTag
    spoofchk: bool | None
    trust: bool | None
    link_state: LinkState
    rate: TxRate

    def config(self) -> VFConfig:
        """The VF config this observation amounts to (unreported fields read as their default)."""
        return VFConfig(
            mac=self.mac,
            vlan=self.vlan,
            spoofchk=True if self.spoofchk is None else self.spoofchk,
            trust=False if self.trust is None else self.trust,
            link_state=self.link_state,
            rate=self.rate,
        )


@dataclass(frozen=True, slots=True)
class ObservedLink:
    """A netdev: its flags and, for a PF asked with VF info, its VFs.

    ``num_vfs`` is ``None`` when VF info was not asked for (a dump of all links) and for
    devices without a parent bus device (veth, bridge), for which the kernel never sends it.
    """

    index: int
    ifname: str
    mac: MacAddress
    admin_up: bool
    carrier: bool
    mtu: int
    num_vfs: int | None = None
    vfs: tuple[ObservedVF, ...] = field(default_factory=tuple)

    @property
    def oper_up(self) -> bool:
        return self.admin_up and self.carrier


@dataclass(frozen=True, slots=True)
class FdbEntry:
    """A bridge FDB entry on a device: ``self`` entries live in the device's own unicast list."""

    ifname: str
    mac: MacAddress
    vlan: int | None = None
    master: str | None = None
    permanent: bool = True
