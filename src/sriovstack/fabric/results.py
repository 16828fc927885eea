"""What a trace, a lease or a connectivity matrix found: legs, hops and reasons in words."""

from __future__ import annotations

from dataclasses import dataclass

from sriovstack.domain.ipam import Address
from sriovstack.fabric.frames import Hop


@dataclass(frozen=True, slots=True)
class Leg:
    """One frame's journey: whether it reached its receiver, the hops, and why not."""

    what: str
    sender: str
    receiver: str
    delivered: bool
    hops: tuple[Hop, ...]
    reason: str = ""

    def describe(self) -> str:
        state = "delivered" if self.delivered else f"LOST: {self.reason}"
        path = " -> ".join(str(h) for h in self.hops)
        return f"{self.what} ({self.sender} -> {self.receiver}): {state}\n    {path}"


def _describe(head: str, ok: bool, reason: str, legs: tuple[Leg, ...]) -> str:
    lines = [f"{head}: " + ("ok" if ok else f"FAILED: {reason}")]
    lines += [f"  {leg.describe()}" for leg in legs]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class TraceResult:
    """An ICMP echo (one way or a round trip) from ``source`` to ``target``, leg by leg.

    ``reason`` says, for an unreachable target, where and why the failing leg's frame was
    lost; it is empty when the target was reached.
    """

    source: str
    target: str
    reachable: bool
    legs: tuple[Leg, ...]
    reason: str = ""

    @property
    def hops(self) -> tuple[Hop, ...]:
        """Every leg's hops, in order."""
        return tuple(hop for leg in self.legs for hop in leg.hops)

    @property
    def failed_leg(self) -> Leg | None:
        return next((leg for leg in self.legs if not leg.delivered), None)

    def describe(self) -> str:
        return _describe(f"{self.source} -> {self.target}", self.reachable, self.reason, self.legs)


@dataclass(frozen=True, slots=True)
class LeaseResult:
    """A DHCP DISCOVER and OFFER: the address offered, or where and why it failed."""

    client: str
    ip: Address | None
    legs: tuple[Leg, ...]
    reason: str = ""

    @property
    def leased(self) -> bool:
        return self.ip is not None

    def describe(self) -> str:
        head = f"DHCP for {self.client}" + (f" -> {self.ip}" if self.ip else "")
        return _describe(head, self.leased, self.reason, self.legs)


@dataclass(frozen=True, slots=True)
class ConnectivityMatrix:
    """A ping between every ordered pair of ``names``."""

    names: tuple[str, ...]
    results: tuple[TraceResult, ...]

    def result(self, source: str, target: str) -> TraceResult:
        for result in self.results:
            if (result.source, result.target) == (source, target):
                return result
        raise KeyError(f"no result for {source} -> {target}; known: {', '.join(self.names)}")

    def reachable(self, source: str, target: str) -> bool:
        return self.result(source, target).reachable

    def reason(self, source: str, target: str) -> str:
        return self.result(source, target).reason

    @property
    def failures(self) -> tuple[TraceResult, ...]:
        return tuple(r for r in self.results if not r.reachable)

    def describe(self) -> str:
        """A grid (row pings column: ok or x) and then each failure's reason."""
        width = max((len(n) for n in self.names), default=0)
        lines = [" " * width + " | " + " | ".join(self.names)]
        for source in self.names:
            cells = [
                (
                    "-" if source == target else "ok" if self.reachable(source, target) else "x"
                ).center(len(target))
                for target in self.names
            ]
            lines.append(source.ljust(width) + " | " + " | ".join(cells))
        for failure in self.failures:
            leg = failure.failed_leg
            during = f" ({leg.what})" if leg else ""
            lines.append(f"{failure.source} -> {failure.target}{during}: {failure.reason}")
        return "\n".join(lines)
