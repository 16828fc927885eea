"""A PF's embedded switch (VEB) as the NIC does it: MAC+VLAN filters, no learning, no hairpin.

Rules (the talk's "Limitations of SR-IOV"; Neutron's FDB extension; linux-sriov.md §4):
- The NIC learns no MACs: a unicast frame goes to the VF whose MAC and port VLAN match, or up
  to the PF when its MAC or one of its FDB entries matches; from a VF or the PF anything else
  goes to the wire, and from the wire anything else is dropped, unless the PF is promiscuous.
- Promiscuous never reaches the VEB's own switching: frames from VFs only reach the PF
  through a filter (hence ``bridge fdb add``), and no VF is ever promiscuous.
- A VF's port VLAN tags what it sends and only frames of that VLAN reach it, untagged.
- Broadcast and multicast go to every VF of the VLAN, the PF and the wire, never back.
- Spoof checking drops what a VF sends from another source MAC; link-state disable cuts
  the VF both ways; a PF that is down passes nothing for itself or its VFs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sriovstack.domain.addresses import MacAddress
from sriovstack.fabric.frames import BROADCAST, Frame, vlan_text
from sriovstack.fabric.nics import NicView, VfView
from sriovstack.fabric.nodes import Drop, Learned, Outcome, Send

HOST = "host"  # the PF's host side: its netdev, an OVS uplink or the host's own stack
WIRE = "wire"


def vf_port(index: int) -> str:
    return f"vf:{index}"


class EmbeddedSwitch:
    """One PF's port of a NIC: VF ports, the PF's host side and the wire.

    ``users`` names what uses each VF and with which MAC: only those VFs get copies of a
    broadcast (nothing the fabric models listens on the others), and a frame for a user's
    MAC that its VF does not filter on can say why. ``behind_host`` names the MACs the
    fabric knows sit above the PF (on its OVS bridge), so that a frame sent to the wire for
    them can say an FDB entry is needed.
    """

    def __init__(
        self,
        nic: NicView,
        users: Mapping[int, tuple[str, MacAddress]] | None = None,
        behind_host: Mapping[MacAddress, str] | None = None,
    ) -> None:
        self.nic = nic
        self.key = f"nic:{nic.host}/{nic.pf}"
        self.users = dict(users or {})
        self.behind_host = dict(behind_host or {})
        self.name = f"{nic.pf} embedded switch ({nic.host})" if nic.vfs else nic.name

    def label(self, port: str) -> str:
        return self.name

    def vf_name(self, index: int) -> str:
        return f"VF {index} of {self.nic.name}"

    def receive(self, frame: Frame, port: str, learned: Learned) -> list[Outcome]:
        if port.startswith("vf:"):
            return self._from_vf(frame, int(port[3:]))
        if not self.nic.up:
            # The ToR sees no link on a down PF, so only the host side can try.
            return [Drop(f"dropped at PF {self.nic.name}: it {self.nic.down_reason}")]
        return self._switch(frame, port)

    # -- ingress from a VF ---------------------------------------------------------------
    def _from_vf(self, frame: Frame, index: int) -> list[Outcome]:
        nic, vf = self.nic, self.nic.vf(index)
        name = self.vf_name(index)
        if vf is None:
            return [Drop(f"dropped: {name} does not exist")]
        if not nic.up:
            return [Drop(f"dropped at {name}: {self._pf_down()}")]
        if vf.disabled:
            return [Drop(f"dropped: {name} is administratively disabled (link-state disable)")]
        if vf.spoofchk and frame.src != vf.mac:
            return [
                Drop(
                    f"dropped: {name} has spoof checking on and the frame's source {frame.src} "
                    f"is not its MAC ({_mac_or_none(vf.mac)})"
                )
            ]
        if vf.vlan is None:
            return self._switch(frame, vf_port(index))
        tagged = frame.tagged(vf.vlan, f"the port VLAN of {name}")
        tag = f"tagged VLAN {vf.vlan} (VF {index}'s port VLAN)"
        return [_with_note(o, tag) for o in self._switch(tagged, vf_port(index))]

    def _pf_down(self) -> str:
        return f"PF {self.nic.name} {self.nic.down_reason}, so its VFs pass no traffic"

    # -- switching -----------------------------------------------------------------------
    def _switch(self, frame: Frame, source: str) -> list[Outcome]:
        if frame.dst.is_multicast:
            return self._replicate(frame, source)
        vf = self._vf_filter(frame)
        if vf is not None:
            return [self._to_vf(frame, vf, source, f"{frame.to} matches VF {vf.index}'s filter")]
        owner = self._host_filter(frame.dst)
        if owner is not None and source != HOST:
            return [Send(HOST, frame, f"{frame.dst} is {owner}", hop=f"PF {self.nic.name}")]
        if source == WIRE:
            return self._unknown_from_wire(frame)
        return [self._unknown_to_wire(frame, source)]

    def _vf_filter(self, frame: Frame) -> VfView | None:
        for entry in self.nic.filters_for(frame.dst):
            if entry.slot and entry.vf is not None and entry.vlan == frame.vlan:
                return self.nic.vf(entry.vf)
        return None

    def _host_filter(self, mac: MacAddress) -> str | None:
        for entry in self.nic.filters_for(mac):
            if entry.slot and entry.vf is None:
                return "in its FDB" if entry.fdb else "the PF's own MAC"
        return None

    def _to_vf(self, frame: Frame, vf: VfView, source: str, why: str) -> Outcome:
        port = vf_port(vf.index)
        if port == source:
            return Drop(f"dropped at {self.name}: the frame is for the VF that sent it", quiet=True)
        if vf.disabled:
            reason = f"dropped: {self.vf_name(vf.index)} is administratively disabled"
            return Drop(f"{reason} (link-state disable)", port=port)
        return Send(port, frame.untagged(), why, hop=self.vf_name(vf.index))

    def _replicate(self, frame: Frame, source: str) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for index in sorted(self.users):
            vf = self.nic.vf(index)
            if vf is None or vf_port(index) == source:
                continue
            if vf.vlan != frame.vlan:
                outcomes.append(Drop(self._vlan_mismatch(vf, frame), port=vf_port(index)))
            else:
                why = f"{_kind(frame)} on {vlan_text(frame.vlan)}: replicated"
                outcomes.append(self._to_vf(frame, vf, source, why))
        if source != HOST:
            outcomes.append(Send(HOST, frame, hop=f"PF {self.nic.name}"))
        if source != WIRE:
            outcomes.append(Send(WIRE, frame))
        return outcomes

    def _vlan_mismatch(self, vf: VfView, frame: Frame) -> str:
        return (
            f"dropped at {self.name}: VLAN mismatch: {self.vf_name(vf.index)} has "
            f"{_port_vlan(vf.vlan)} but the frame is {frame.on}"
        )

    # -- unicast no filter matches -------------------------------------------------------
    def _unknown_from_wire(self, frame: Frame) -> list[Outcome]:
        # A frame meant for a VF that does not filter on it is lost for that VF, even when a
        # promiscuous PF takes it up instead: say so at the VF.
        outcomes: list[Outcome] = [
            Drop(f"dropped at {self.name}: {why}", port=vf_port(index))
            for index, why in self._missed_vfs(frame)
        ]
        promiscuous = self.nic.promiscuous
        if promiscuous:
            taken = " and ".join(promiscuous)
            note = f"{frame.to} matches no filter; taken up: {self.nic.pf} is {taken}"
            outcomes.append(Send(HOST, frame, note, hop=f"PF {self.nic.name}"))
        elif not outcomes:
            why = self._full_table(frame) or "(not the PF's MAC, not a VF's, not in its FDB)"
            reason = f"dropped at {self.name}: {frame.to} is not in its MAC filter table {why}"
            outcomes.append(Drop(reason))
        return outcomes

    def _unknown_to_wire(self, frame: Frame, source: str) -> Send:
        whys = [why for _, why in self._missed_vfs(frame)]
        full = self._full_table(frame)
        if full:
            whys.append(f"{frame.to} is not in its MAC filter table {full}")
        elif not whys and frame.dst in self.behind_host and source != HOST:
            nic = self.nic
            whys.append(
                f"{frame.to} is not in its MAC filter table (an FDB entry is needed: "
                f"bridge fdb add {frame.dst} dev {nic.pf} on {nic.host})"
            )
        if not whys:
            # The usual way out to other hosts; only a NIC with VFs has a VEB to mention.
            note = f"{frame.to} matches no filter: sent to the wire" if self.nic.vfs else ""
            return Send(WIRE, frame, note)
        why = "; ".join(whys)
        return Send(
            WIRE, frame, f"sent to the wire: {why}", cause=f"{self.name} sent it to the wire: {why}"
        )

    def _missed_vfs(self, frame: Frame) -> list[tuple[int, str]]:
        """VFs a unicast frame was meant for that do not take it, and why (VLAN or MAC)."""
        missed: list[tuple[int, str]] = []
        for entry in self.nic.filters_for(frame.dst):
            vf = self.nic.vf(entry.vf) if entry.vf is not None else None
            if vf is not None and not entry.slot:
                missed.append(
                    (
                        vf.index,
                        f"{frame.to} is the MAC of {self.vf_name(vf.index)}, which got no "
                        f"filter {self._table_full()}",
                    )
                )
            elif vf is not None and entry.vlan != frame.vlan:
                missed.append(
                    (
                        vf.index,
                        f"VLAN mismatch: {frame.to} is the MAC of {self.vf_name(vf.index)}, "
                        f"which has {_port_vlan(vf.vlan)}",
                    )
                )
        for index, (user, mac) in sorted(self.users.items()):
            vf = self.nic.vf(index)
            if mac == frame.dst and vf is not None and vf.mac != mac:
                missed.append(
                    (
                        index,
                        f"{frame.to} is not in its MAC filter table: {user} uses it on "
                        f"{self.vf_name(index)}, but that VF's MAC is {_mac_or_none(vf.mac)}",
                    )
                )
        return missed

    def _full_table(self, frame: Frame) -> str:
        """Why an FDB entry has no filter: the table ran out (VFs' MACs say so themselves)."""
        entries = self.nic.filters_for(frame.dst)
        if not any(not e.slot and e.fdb for e in entries):
            return ""
        return f"(it has an FDB entry, but no filter {self._table_full()})"

    def _table_full(self) -> str:
        nic = self.nic
        return (
            f"because the table is full: {nic.used} addresses for {nic.capacity} filters on "
            f"{nic.model.name}"
        )


def _with_note(outcome: Outcome, note: str) -> Outcome:
    if not isinstance(outcome, Send):
        return outcome
    return replace(outcome, note="; ".join(n for n in (note, outcome.note) if n))


def _kind(frame: Frame) -> str:
    return "broadcast" if frame.dst == BROADCAST else "multicast"


def _mac_or_none(mac: MacAddress) -> str:
    return "it has none" if mac.is_zero else str(mac)


def _port_vlan(vlan: int | None) -> str:
    return "no port VLAN (untagged)" if vlan is None else f"port VLAN {vlan}"
