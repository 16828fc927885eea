"""VF config: what is applied to a VF (MAC, VLAN, QoS, protocol, spoof check, trust, link, rate)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sriovstack.domain.addresses import MacAddress
from sriovstack.domain.errors import InvalidInput

VLAN_MAX = 4095
QOS_MAX = 7


class LinkState(enum.IntEnum):
    """VF link state as rtnetlink numbers it (IFLA_VF_LINK_STATE)."""

    AUTO = 0
    ENABLE = 1
    DISABLE = 2

    @classmethod
    def parse(cls, text: str, field: str = "state") -> LinkState:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise InvalidInput(field, "must be auto, enable or disable", text) from None

    def __str__(self) -> str:
        return self.name.lower()


class VlanProto(enum.IntEnum):
    """VLAN protocol (TPID) of a VF's port VLAN."""

    DOT1Q = 0x8100
    DOT1AD = 0x88A8

    @classmethod
    def parse(cls, text: str, field: str = "proto") -> VlanProto:
        names = {"802.1q": cls.DOT1Q, "802.1ad": cls.DOT1AD}
        try:
            return names[text.strip().lower()]
        except KeyError:
            raise InvalidInput(field, "must be 802.1Q or 802.1ad", text) from None

    def __str__(self) -> str:
        return "802.1Q" if self is VlanProto.DOT1Q else "802.1ad"


@dataclass(frozen=True, slots=True)
class VlanTag:
    """A port VLAN with its 802.1p priority; vlan 0 (with qos 0) means no VLAN."""

    vlan: int = 0
    qos: int = 0
    proto: VlanProto = VlanProto.DOT1Q

    def __post_init__(self) -> None:
        check_vlan(self.vlan)
        if not 0 <= self.qos <= QOS_MAX:
            raise InvalidInput("qos", f"must be 0..{QOS_MAX}", self.qos)
        # VLAN 0 with a QoS is priority tagging, which drivers accept: not refused here.


@dataclass(frozen=True, slots=True)
class TxRate:
    """Minimum and maximum transmit rate in Mbit/s; 0 means no limit."""

    min_mbps: int = 0
    max_mbps: int = 0

    def __post_init__(self) -> None:
        if self.min_mbps < 0:
            raise InvalidInput("min-rate", "must be 0 or more Mbit/s", self.min_mbps)
        if self.max_mbps < 0:
            raise InvalidInput("max-rate", "must be 0 or more Mbit/s", self.max_mbps)
        if self.max_mbps and self.min_mbps > self.max_mbps:
            raise InvalidInput(
                "min-rate", f"must not exceed max-rate ({self.max_mbps} Mbit/s)", self.min_mbps
            )


def check_vlan(vlan: int, field: str = "vlan") -> int:
    if not 0 <= vlan <= VLAN_MAX:
        raise InvalidInput(field, f"must be 0..{VLAN_MAX}", vlan)
    return vlan


@dataclass(frozen=True, slots=True)
class VFConfig:
    """Everything that is applied to one VF; the default is a clean, released VF."""

    mac: MacAddress = field(default_factory=MacAddress.zero)
    vlan: VlanTag = field(default_factory=VlanTag)
    spoofchk: bool = True
    trust: bool = False
    link_state: LinkState = LinkState.AUTO
    rate: TxRate = field(default_factory=TxRate)

    def __post_init__(self) -> None:
        if not self.mac.is_zero:
            self.mac.require_unicast()


CLEAN = VFConfig()
"""A released VF: MAC zero, VLAN 0, spoof check on, trust off, link auto, no rate limits."""


@dataclass(frozen=True, slots=True)
class VFConfigChange:
    """A partial VF config: ``None`` leaves that setting as it is."""

    mac: MacAddress | None = None
    vlan: VlanTag | None = None
    spoofchk: bool | None = None
    trust: bool | None = None
    link_state: LinkState | None = None
    rate: TxRate | None = None

    @property
    def is_empty(self) -> bool:
        return all(
            v is None
            for v in (self.mac, self.vlan, self.spoofchk, self.trust, self.link_state, self.rate)
        )

    def __post_init__(self) -> None:
        if self.mac is not None and not self.mac.is_zero:
            self.mac.require_unicast()
