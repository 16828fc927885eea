"""What a piece of the fabric does with a frame (send on, drop, take in); endpoints' NICs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sriovstack.domain.addresses import MacAddress
from sriovstack.fabric.endpoints import Endpoint
from sriovstack.fabric.frames import Frame

# What each learning switch has learned: switch key -> (VLAN, MAC) -> port.
Learned = dict[str, dict[tuple[int | None, MacAddress], str]]

NIC = "nic"  # an endpoint's only port


@dataclass(frozen=True, slots=True)
class Send:
    """Send the frame out of ``port``; ``note`` says why there, ``hop`` names the way out.

    ``cause`` is set when the choice may explain a loss further on, in words that stand alone.
    """

    port: str
    frame: Frame
    note: str = ""
    cause: str = ""
    hop: str = ""


@dataclass(frozen=True, slots=True)
class Drop:
    """The frame, or its copy for ``port``, is lost here.

    ``quiet`` marks ordinary filtering (a NIC ignoring another MAC's frame, a switch not
    flooding a broadcast back where it came from): it explains a loss only if nothing else does.
    """

    reason: str
    port: str | None = None
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class Accept:
    """The endpoint here takes the frame in."""

    note: str = ""


Outcome = Send | Drop | Accept


class Node(Protocol):
    """A piece of the fabric with named ports."""

    @property
    def key(self) -> str: ...

    def label(self, port: str) -> str:
        """How a path names this place when a frame comes in at ``port``."""
        ...

    def receive(self, frame: Frame, port: str, learned: Learned) -> list[Outcome]: ...


def endpoint_key(endpoint: Endpoint) -> str:
    return f"endpoint:{endpoint.key}"


class EndpointNode:
    """An endpoint's NIC: it sends untagged frames and takes those for its MAC or broadcast.

    Guests here have no VLAN interfaces: a tagged frame reaching one (a whole PF on a trunk
    port) is lost, as it would be in a guest with only an untagged interface.
    """

    def __init__(self, endpoint: Endpoint, attachment: str) -> None:
        self.endpoint = endpoint
        self.key = endpoint_key(endpoint)
        self.attachment = attachment

    @property
    def source_label(self) -> str:
        return f"{self.endpoint.name} via {self.attachment}"

    def label(self, port: str) -> str:
        return self.endpoint.name

    def send(self, frame: Frame) -> list[Outcome]:
        return [Send(NIC, frame)]

    def receive(self, frame: Frame, port: str, learned: Learned) -> list[Outcome]:
        name = self.endpoint.name
        if frame.vlan is not None:
            return [
                Drop(
                    f"dropped at {name}: the frame arrives tagged ({frame.on}) and {name} has "
                    "no VLAN interface for it (its switch port should strip the tag)"
                )
            ]
        if frame.dst == self.endpoint.mac or frame.dst.is_multicast:
            return [Accept()]
        return [Drop(f"dropped at {name}: {frame.dst} is not its MAC", quiet=True)]
