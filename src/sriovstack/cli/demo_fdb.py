"""Step 6 of ``sriovstack demo``: a VF guest and an OVS guest on one PF, before and after the
PF's FDB entry (the talk's "PF Promiscuous Mode": the NIC must be told, it does not learn).

sriov-2 joins with its OVS bridge on enp3s0f1, the PF whose VFs it offers. Instance-3 (OVS)
and Instance-4 (a VF) boot there. Without ``[FDB] shared_physical_device_mappings`` the VF's
frames for Instance-3 leave the NIC and the ToR will not send them back; with it the agent's
FDB step adds Instance-3's MAC to the PF, and puts it back when it is removed by hand.
"""

from __future__ import annotations

from sriovstack.cli.cloud import NEUTRON
from sriovstack.cli.demo_boot import boot, converge, server_rows
from sriovstack.cli.demo_reach import leg_lines, trace_lines
from sriovstack.cli.demo_record import StepLog
from sriovstack.cli.demo_stage import Stage
from sriovstack.domain.addresses import MacAddress
from sriovstack.host import fdb, provisioning
from sriovstack.launch.demo import DemoHost
from sriovstack.launch.demo_hosts import (
    FDB_LOCAL_CONF,
    SHARED,
    UPLINKS,
    shared_config,
)
from sriovstack.simulator.kernel import SimulatedKernel
from sriovstack.simulator.profiles import load_profile

PF = UPLINKS[SHARED]  # enp3s0f1: OVS uplink and the VFs' PF at once
OVS_GUEST, VF_GUEST = "Instance-3", "Instance-4"


def fdb_case(stage: Stage, log: StepLog) -> None:
    host = _join(stage, log)
    mac = _boot_pair(stage, log, host)
    _without_entry(stage, log)
    _agent_adds_it(stage, log, host, mac)
    _removed_by_hand(stage, log, host, mac)


def _without_entry(stage: Stage, log: StepLog) -> None:
    log.command(f"$ ping {OVS_GUEST} from {VF_GUEST}      (no FDB entry on {PF})")
    without = stage.fabric().ping(VF_GUEST, OVS_GUEST)
    log.say(*trace_lines(without))
    log.command(f"$ ping {VF_GUEST} from {OVS_GUEST}      (the other way)")
    back = stage.fabric().trace(OVS_GUEST, VF_GUEST)
    log.say(*leg_lines(back))
    log.facts["without_fdb"] = {"reachable": without.reachable, "reason": without.reason}
    log.facts["other_way"] = {leg.what: leg.delivered for leg in back.legs}
    log.check(
        "without an FDB entry the VF guest cannot reach the OVS guest: the NIC sends the frame "
        "to the wire and the ToR will not send it back",
        not without.reachable and "FDB entry is needed" in without.reason,
        without.reason,
    )
    lost = back.failed_leg
    log.check(
        "the other way the OVS guest's broadcast reaches the VF guest; only the answer, VF to "
        "OVS again, is lost",
        bool(back.legs)
        and back.legs[0].delivered
        and lost is not None
        and "FDB entry is needed" in lost.reason,
        back.reason,
    )


def _agent_adds_it(stage: Stage, log: StepLog, host: DemoHost, mac: MacAddress) -> None:
    log.command(f"# cat >> local.conf   (sriov-2)\n{FDB_LOCAL_CONF.rstrip()}")
    log.command("# restart sriov-2's agent   (it reads local.conf when it starts)")
    stage.cloud.restart_agent(SHARED, shared_config(fdb=True))
    added = [list(entry) for r in converge(host, log) for entry in r.fdb.added]
    _show_fdb(host, log)
    log.command(f"$ ping {OVS_GUEST} from {VF_GUEST}")
    with_entry = stage.fabric().ping(VF_GUEST, OVS_GUEST)
    log.say(*trace_lines(with_entry, path=True))
    log.facts["agent_added"] = added
    log.facts["with_fdb"] = {"reachable": with_entry.reachable}
    log.check(
        f"the agent's FDB step adds {OVS_GUEST}'s MAC to {PF}", [PF, str(mac)] in added, f"{added}"
    )
    log.check("with the entry the VF guest reaches the OVS guest", with_entry.reachable)


def _removed_by_hand(stage: Stage, log: StepLog, host: DemoHost, mac: MacAddress) -> None:
    log.command(f"# bridge fdb del {mac} dev {PF}   (by hand, on sriov-2)")
    host.kernel.fdb_del(PF, mac)
    removed = stage.fabric().ping(VF_GUEST, OVS_GUEST)
    log.say(*trace_lines(removed))
    again = [list(entry) for r in converge(host, log) for entry in r.fdb.added]
    restored = stage.fabric().ping(VF_GUEST, OVS_GUEST)
    log.say(*trace_lines(restored))
    log.facts["removed_by_hand"] = {"reachable": removed.reachable, "agent_added": again}
    log.facts["restored"] = {"reachable": restored.reachable}
    log.check(
        "removed by hand, the entry is missed at once and the agent's next cycle puts it back",
        not removed.reachable and [PF, str(mac)] in again and restored.reachable,
        f"{again}",
    )


def _join(stage: Stage, log: StepLog) -> DemoHost:
    log.command(
        f"# sriov-2 joins: OVS_PHYSICAL_BRIDGE=br-{PF} PUBLIC_INTERFACE={PF} "
        f"PHYSICAL_DEVICE_MAPPINGS=physnet1:{PF}"
    )
    log.progress("sriov-2 boots, makes its VFs, and its agent joins")
    kernel = SimulatedKernel(load_profile("talk-after"))
    provisioning.set_vf_count(kernel, PF, 7)
    host = stage.cloud.join(SHARED, kernel, shared_config(fdb=False), uplink=PF)
    log.say(f"  {SHARED} joined: 7 VFs on {PF}; [FDB] shared_physical_device_mappings not set")
    return host


def _boot_pair(stage: Stage, log: StepLog, host: DemoHost) -> MacAddress:
    """Instance-3 on OVS and Instance-4 on a VF, both on sriov-2; Instance-3's MAC."""
    # As the admin (`. openrc admin demo`), who may name the host: nova:sriov-2. The key pair
    # is the demo user's, so these two have none.
    admin, zone = stage.admin, f"nova:{SHARED}"
    log.command("$ . ./openrc admin demo")
    log.command(f"$ nova boot ... --availability-zone {zone} --nic net-id=$net_id {OVS_GUEST}")
    boot(admin, OVS_GUEST, {"uuid": stage.network["id"]}, zone, key=None)
    log.command(f"$ nova boot ... --availability-zone {zone} --nic port-id=$vf3 {VF_GUEST}")
    boot(admin, VF_GUEST, {"port": stage.ports["physnet1-vf3"]["id"]}, zone, key=None)
    converge(host, log)
    stage.servers.update(server_rows(stage.admin, (OVS_GUEST, VF_GUEST), all_projects=True))
    placed = {
        name: (stage.server(name)["status"], stage.server(name).get("OS-EXT-SRV-ATTR:host"))
        for name in (OVS_GUEST, VF_GUEST)
    }
    log.facts["servers"] = {name: list(where) for name, where in placed.items()}
    log.check(
        f"{OVS_GUEST} and {VF_GUEST} are ACTIVE on {SHARED}",
        all(where == ("ACTIVE", SHARED) for where in placed.values()),
        f"{placed}",
    )
    (port,) = stage.admin.get(f"{NEUTRON}/ports", device_id=stage.server(OVS_GUEST)["id"])["ports"]
    return MacAddress.parse(port["mac_address"])


def _show_fdb(host: DemoHost, log: StepLog) -> None:
    listing = fdb.list_fdb(host.kernel, PF)
    log.command(f"# bridge fdb show dev {PF}   (sriov-2)")
    log.say(*(f"  {entry.mac} dev {entry.ifname} self permanent" for entry in listing.entries))
    log.say(
        f"  {listing.table.used} of {listing.table.capacity} unicast MAC filters in use "
        "(82599 and X540: 128)"
    )
    log.facts["mac_filters"] = {"used": listing.table.used, "capacity": listing.table.capacity}
