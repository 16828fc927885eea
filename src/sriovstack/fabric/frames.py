"""Frames as they move (addresses, VLAN tag and who put it there) and the hops of a path."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sriovstack.domain.addresses import MacAddress

BROADCAST = MacAddress.parse("ff:ff:ff:ff:ff:ff")


def vlan_text(vlan: int | None) -> str:
    return "untagged" if vlan is None else f"VLAN {vlan}"


def on_vlan(vlan: int | None) -> str:
    """``on VLAN 2010`` or ``untagged``, to follow "is"."""
    return "untagged" if vlan is None else f"on VLAN {vlan}"


@dataclass(frozen=True, slots=True)
class Frame:
    """An Ethernet frame at one point of its way; ``vlan`` None is untagged.

    ``tagged_by`` names what put the current tag on, so that a VLAN mismatch can say where
    the wrong VLAN came from.
    """

    src: MacAddress
    dst: MacAddress
    what: str
    vlan: int | None = None
    tagged_by: str = ""

    def tagged(self, vlan: int, by: str) -> Frame:
        return replace(self, vlan=vlan, tagged_by=by)

    def untagged(self) -> Frame:
        return replace(self, vlan=None, tagged_by="")

    @property
    def on(self) -> str:
        """Its VLAN in words, with where the tag came from: ``on VLAN 2010, set by ...``."""
        by = f", set by {self.tagged_by}" if self.tagged_by and self.vlan is not None else ""
        return on_vlan(self.vlan) + by

    @property
    def to(self) -> str:
        """Its destination and VLAN in words: ``fa:16:3e:00:00:01 on VLAN 2010``."""
        return f"{self.dst} on {vlan_text(self.vlan)}"


@dataclass(frozen=True, slots=True)
class Hop:
    """One place on a frame's path and, when it decided something notable, why.

    ``cause`` states a decision that explains a loss further on (a frame sent to the wire
    for lack of a MAC filter), so that the loss can name it.
    """

    place: str
    note: str = ""
    cause: str = ""

    def __str__(self) -> str:
        return f"{self.place} [{self.note}]" if self.note else self.place
