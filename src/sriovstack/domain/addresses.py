"""PCI and MAC addresses: parsed and validated once, printed back in the kernel's own form."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sriovstack.domain.errors import InvalidInput

_BDF = re.compile(
    r"^(?:(?P<domain>[0-9a-fA-F]{1,4}):)?(?P<bus>[0-9a-fA-F]{1,2}):"
    r"(?P<device>[0-9a-fA-F]{1,2})\.(?P<function>[0-7])$"
)
_MAC = re.compile(r"^[0-9a-fA-F]{2}([:-])(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}$")


@dataclass(frozen=True, slots=True, order=True)
class PciAddress:
    """A PCI function address ``DDDD:BB:DD.F`` (domain, bus, device, function)."""

    domain: int
    bus: int
    device: int
    function: int

    def __post_init__(self) -> None:
        if not (
            0 <= self.domain <= 0xFFFF
            and 0 <= self.bus <= 0xFF
            and 0 <= self.device <= 0x1F
            and 0 <= self.function <= 7
        ):
            raise InvalidInput("pci address", "domain 0-ffff, bus 0-ff, device 0-1f, function 0-7")

    @classmethod
    def parse(cls, text: str, field: str = "pci address") -> PciAddress:
        """Parse ``0000:03:10.1`` or the short ``03:10.1`` (domain 0)."""
        match = _BDF.match(text.strip())
        if match is None:
            raise InvalidInput(field, "must look like DDDD:BB:DD.F, e.g. 0000:03:00.1", text)
        device = int(match["device"], 16)
        if device > 0x1F:
            raise InvalidInput(field, "the device number must be 00-1f", text)
        return cls(
            domain=int(match["domain"] or "0", 16),
            bus=int(match["bus"], 16),
            device=device,
            function=int(match["function"]),
        )

    @classmethod
    def from_routing_id(cls, domain: int, rid: int) -> PciAddress:
        """Build an address from a 16-bit routing ID (bus << 8 | devfn)."""
        return cls(domain=domain, bus=rid >> 8, device=(rid >> 3) & 0x1F, function=rid & 7)

    @property
    def devfn(self) -> int:
        return self.device << 3 | self.function

    @property
    def routing_id(self) -> int:
        return self.bus << 8 | self.devfn

    @property
    def slot(self) -> str:
        """``DD.F``, as ``lspci -t`` prints a function under its bus."""
        return f"{self.device:02x}.{self.function}"

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.device:02x}.{self.function}"


def vf_address(pf: PciAddress, *, offset: int, stride: int, index: int) -> PciAddress:
    """Where VF ``index`` of a PF sits: PF routing ID + First VF Offset + VF Stride * index.

    Offsets past the PF's bus (e.g. 384 without ARI) put VFs on the next bus numbers.
    """
    return PciAddress.from_routing_id(pf.domain, pf.routing_id + offset + stride * index)


@dataclass(frozen=True, slots=True, order=True)
class MacAddress:
    """A 48-bit Ethernet MAC address, printed lower-case with colons."""

    value: int

    ZERO_TEXT = "00:00:00:00:00:00"

    @classmethod
    def parse(cls, text: str, field: str = "mac") -> MacAddress:
        if not _MAC.match(text.strip()):
            raise InvalidInput(field, "must be six hex octets like fa:16:3e:00:00:01", text)
        return cls(int(text.strip().replace("-", "").replace(":", ""), 16))

    @classmethod
    def zero(cls) -> MacAddress:
        return cls(0)

    @property
    def is_zero(self) -> bool:
        return self.value == 0

    @property
    def is_multicast(self) -> bool:
        """The I/G bit of the first octet: set for multicast and broadcast."""
        return bool((self.value >> 40) & 1)

    @property
    def is_unicast(self) -> bool:
        return not self.is_zero and not self.is_multicast

    def require_unicast(self, field: str = "mac") -> MacAddress:
        """Return self, or refuse a zero, multicast or broadcast address."""
        if not self.is_unicast:
            raise InvalidInput(
                field, "must be a unicast address (not zero, multicast or broadcast)", str(self)
            )
        return self

    def __str__(self) -> str:
        raw = f"{self.value:012x}"
        return ":".join(raw[i : i + 2] for i in range(0, 12, 2))
