"""Step 7 of ``sriovstack demo``: two of the talk's "Limitations of SR-IOV" on sriov-1.

VFs are allocated all at once, so changing their count while guests hold some is refused
(naming them); and a VF cannot pass traffic unless its PF is up.
"""

from __future__ import annotations

from sriovstack.cli.cloud import NEUTRON
from sriovstack.cli.demo_reach import trace_lines
from sriovstack.cli.demo_record import StepLog
from sriovstack.cli.demo_stage import Stage
from sriovstack.domain.errors import VFsInUse
from sriovstack.host import provisioning
from sriovstack.host.inventory import read_inventory
from sriovstack.launch.demo_hosts import CONTROLLER

PF = "enp3s0f1"
VF_GUESTS = ("Instance-1", "Instance-2")


def limitations(stage: Stage, log: StepLog) -> None:
    _count_change_refused(stage, log)
    _pf_down(stage, log)


def _count_change_refused(stage: Stage, log: StepLog) -> None:
    kernel = stage.host(CONTROLLER).kernel
    held = sorted(_slot(stage, name) for name in VF_GUESTS)
    log.command(
        f"# sriovstack host set-vfs {PF} 4   (sriov-1, while {' and '.join(VF_GUESTS)} run)"
    )
    try:
        provisioning.set_vf_count(kernel, PF, 4)
        in_use: list[str] = []
        refused = ""
    except VFsInUse as exc:
        in_use, refused = list(exc.in_use), str(exc)
        log.say(f"  refused: {refused}")
    count = next(pf.num_vfs for pf in read_inventory(kernel).pfs if pf.netdev == PF)
    log.facts["count_change"] = {
        "refused": refused,
        "in_use": in_use,
        "held_by_guests": held,
        "vfs_after": count,
    }
    named = all(any(slot in entry for entry in in_use) for slot in held)
    log.check(
        "a VF count change is refused, naming the VFs the guests hold",
        bool(refused) and len(in_use) == len(held) and named,
        f"in use {in_use}, guests hold {held}",
    )
    log.check("nothing was half-applied: still seven VFs", count == 7, f"{count} VFs")


def _slot(stage: Stage, name: str) -> str:
    (port,) = stage.admin.get(f"{NEUTRON}/ports", device_id=stage.server(name)["id"])["ports"]
    return str((port.get("binding:profile") or {}).get("pci_slot"))


def _pf_down(stage: Stage, log: StepLog) -> None:
    kernel = stage.host(CONTROLLER).kernel
    dhcp = stage.fabric().dhcp_servers[0].label
    log.command(f"# ip link set dev {PF} down   (sriov-1)")
    kernel.set_link(PF, up=False)
    fabric = stage.fabric()
    lost = [fabric.ping(name, dhcp) for name in VF_GUESTS]
    ovs = fabric.ping("Instance-0", dhcp)
    for result in (*lost, ovs):
        log.say(*trace_lines(result))
    log.command(f"# ip link set dev {PF} up   (sriov-1)")
    kernel.set_link(PF, up=True)
    back = [stage.fabric().ping(name, dhcp) for name in VF_GUESTS]
    log.say(*(line for result in back for line in trace_lines(result)))
    log.facts["pf_down"] = {
        "vf_guests": {r.source: r.reason for r in lost},
        "ovs_guest_reachable": ovs.reachable,
        "after_up": {r.source: r.reachable for r in back},
    }
    log.check(
        f"with {PF} down its VFs pass no traffic, and the fabric says why",
        all(not r.reachable and f"PF {PF} (sriov-1) is down" in r.reason for r in lost),
        "; ".join(r.reason for r in lost),
    )
    log.check("Instance-0 (OVS on enp3s0f0) is not affected", ovs.reachable, ovs.reason)
    log.check(
        f"with {PF} up again the VF guests reach the DHCP namespace",
        all(r.reachable for r in back),
        "; ".join(r.reason for r in back),
    )
