"""Step 4 of ``sriovstack demo``: the talk's local.sh and start-vms.sh, as the demo user.

Seven direct ports, then Instance-0 on OVS (a normal port on physnet1) and Instance-1 and
Instance-2 each on a VF port; the API schedules them, sriov-1's agent configures the VFs,
starts the guests and reports them ACTIVE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from sriovstack.agent.cycle import CycleResult
from sriovstack.cli.cloud import FLAVOR, IMAGE, NEUTRON, NOVA, Cloud
from sriovstack.cli.demo_cloud import KEY_NAME, PHYSNET, VLAN
from sriovstack.cli.demo_record import StepLog
from sriovstack.cli.demo_stage import Stage
from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.inventory import PFEntry
from sriovstack.host.inventory import read_inventory
from sriovstack.launch.cycles import done
from sriovstack.launch.demo import DemoHost
from sriovstack.launch.demo_hosts import CONTROLLER
from sriovstack.virt.guests import NicKind

FLAVOR_NAME, IMAGE_NAME = "m1.small", "Fedora-Cloud-Base-23-20151030.x86_64"
VF_PORTS = tuple(f"physnet1-vf{i}" for i in range(1, 8))
BOOT = f"nova boot --flavor {FLAVOR_NAME} --key_name {KEY_NAME} --image {IMAGE_NAME}"


def boot(
    cloud: Cloud,
    name: str,
    nic: dict[str, str],
    zone: str | None = None,
    *,
    key: str | None = KEY_NAME,
) -> dict[str, Any]:
    """``nova boot`` as the talk types it, with one NIC (``{"port": ID}`` or ``{"uuid": ID}``);
    ``key`` is a key pair of the user ``cloud`` is logged in as (key pairs are per user)."""
    body: dict[str, Any] = {
        "name": name,
        "flavorRef": FLAVOR.find_id(cloud, FLAVOR_NAME),
        "imageRef": IMAGE.find_id(cloud, IMAGE_NAME),
        "networks": [nic],
    }
    if key:
        body["key_name"] = key
    if zone:
        body["availability_zone"] = zone
    server: dict[str, Any] = cloud.post(f"{NOVA}/servers", {"server": body})["server"]
    return server


def converge(host: DemoHost, log: StepLog) -> list[CycleResult]:
    """The host's agent cycled until it has nothing left to do; one line per cycle."""
    log.progress(f"{host.name}'s agent: cycling until it has nothing left to do")
    results = host.settle()
    for number, result in enumerate(results, start=1):
        did = {verb: len(ids) for verb, ids in done(result).items() if ids}
        changes = len(result.actions)
        words = [f"{changes} VF change{'s' if changes != 1 else ''}"] if changes else []
        words += [f"{verb} {count}" for verb, count in did.items()]
        words += [f"FDB +{len(result.fdb.added)}"] if result.fdb.added else []
        log.say(f"  {host.name} agent cycle {number}: {', '.join(words) or 'nothing to do'}")
    return results


def server_rows(
    cloud: Cloud, names: Sequence[str], *, all_projects: bool = False
) -> dict[str, dict[str, Any]]:
    """The servers named, as the API shows them now (an admin's view has their hosts)."""
    params = {"all_tenants": "True"} if all_projects else {}
    found = cloud.get(f"{NOVA}/servers/detail", **params)["servers"]
    return {s["name"]: s for s in found if s["name"] in names}


def ports_and_servers(stage: Stage, log: StepLog) -> None:
    demo, network = stage.demo, stage.network
    log.command(
        "$ for i in `seq 1 7`; do neutron port-create physnet1 --vnic-type direct "
        "--name physnet1-vf$i; done"
    )
    for name in VF_PORTS:
        body = {"network_id": network["id"], "name": name, "binding:vnic_type": "direct"}
        stage.ports[name] = demo.post(f"{NEUTRON}/ports", {"port": body})["port"]
    log.say(_ports_table(stage.ports.values()))
    made = list(stage.ports.values())
    log.facts["ports"] = {p["name"]: _address(p) for p in made}
    log.check(
        "seven direct ports on physnet1",
        len(made) == 7 and all(p["binding:vnic_type"] == "direct" for p in made),
    )

    log.command(f"$ {BOOT} --nic net-id=$net_id Instance-0")
    boot(demo, "Instance-0", {"uuid": network["id"]})
    for i in (1, 2):
        log.command(f"$ port_id=`neutron port-show physnet1-vf{i} -F id -f value`")
        log.command(f"$ {BOOT} --nic port-id=$port_id Instance-{i}")
        boot(demo, f"Instance-{i}", {"port": stage.ports[f"physnet1-vf{i}"]["id"]})
    names = ("Instance-0", "Instance-1", "Instance-2")
    before = {n: s["status"] for n, s in server_rows(demo, names).items()}
    log.say("  " + ", ".join(f"{n} {status}" for n, status in sorted(before.items())))
    log.facts["before_cycles"] = before
    log.check("booted, they wait in BUILD for the agent", before == dict.fromkeys(names, "BUILD"))
    host = stage.host(CONTROLLER)
    results = converge(host, log)
    log.facts["cycles"] = len(results)
    stage.servers.update(server_rows(stage.admin, names, all_projects=True))
    where = {n: (s["status"], s.get("OS-EXT-SRV-ATTR:host")) for n, s in stage.servers.items()}
    log.facts["servers"] = {n: list(w) for n, w in where.items() if n in names}
    log.check(
        "Instance-0, -1 and -2 are ACTIVE on sriov-1",
        all(where.get(n) == ("ACTIVE", CONTROLLER) for n in names),
        f"{where}",
    )
    _vf_guests(stage, log, host)


def _vf_guests(stage: Stage, log: StepLog, host: DemoHost) -> None:
    """Each VF guest holds its port's VF, configured as the port says; Instance-0 is on OVS."""
    ports = stage.admin.get(f"{NEUTRON}/ports", network_id=stage.network["id"])["ports"]
    by_device = {p["device_id"]: p for p in ports}
    inventory = read_inventory(host.kernel)
    pf = next(pf for pf in inventory.pfs if pf.netdev == "enp3s0f1")
    log.command("# ip link show enp3s0f1      (sriov-1: the VFs as the agent left them)")
    guests = {g.spec.name: g for g in host.hypervisor.guests()}
    holders = {
        nic.pci_address: f"{g.spec.name} ({nic.port_id[:8]})"
        for g in guests.values()
        for nic in g.spec.nics
        if nic.pci_address is not None
    }
    log.say(_vf_table(pf, holders))
    facts: dict[str, Any] = {}
    for name in ("Instance-1", "Instance-2"):
        port = by_device.get(stage.server(name)["id"], {})
        slot = (port.get("binding:profile") or {}).get("pci_slot")
        vf = next((v for v in pf.vfs if slot and v.address == PciAddress.parse(slot)), None)
        config = vf.config.config() if vf is not None and vf.config is not None else None
        nic = guests[name].spec.nics[0] if name in guests else None
        facts[name] = {
            "port": port.get("name"),
            "vf": vf.index if vf else None,
            "pci_slot": slot,
            "driver": vf.driver if vf else None,
            "mac": str(config.mac) if config else None,
            "vlan": config.vlan.vlan if config else None,
            "nic": str(nic.kind) if nic else None,
        }
        log.check(
            f"{name} holds its port's VF: vfio-pci, the port's MAC, VLAN {VLAN}",
            vf is not None
            and vf.driver == "vfio-pci"
            and config is not None
            and str(config.mac) == port.get("mac_address")
            and config.vlan.vlan == VLAN
            and nic is not None
            and nic.kind is NicKind.HOSTDEV
            and nic.pci_address == vf.address,
            f"{facts[name]}",
        )
    guest = guests.get("Instance-0")
    nic = guest.spec.nics[0] if guest is not None else None
    facts["Instance-0"] = {"nic": str(nic.kind) if nic else None, "bridge": nic and nic.bridge}
    log.facts["guests"] = facts
    log.check(
        f"Instance-0 has a virtio NIC on Open vSwitch ({PHYSNET} VLAN {VLAN} via the bridge)",
        nic is not None and nic.kind is NicKind.BRIDGE,
        f"{facts['Instance-0']}",
    )


def _ports_table(ports: Any) -> Table:
    table = Table("Name", "ID", "MAC Address", "Fixed IP", "vnic_type")
    for port in ports:
        cells = (port["name"], port["id"], port["mac_address"], _address(port))
        table.add_row(*(Text(c) for c in (*cells, port["binding:vnic_type"])))
    return table


def _vf_table(pf: PFEntry, holders: dict[PciAddress, str]) -> Table:
    """The PF's VFs as ``ip link show`` has them, and the guest holding each."""
    table = Table("VF", "PCI", "driver", "MAC", "VLAN", "spoofchk", "link", "guest (port)")
    for vf in pf.vfs:
        config = vf.config.config() if vf.config is not None else None
        cells = [str(vf.index), str(vf.address), vf.driver or "-"]
        if config is None:
            cells += ["?"] * 4
        else:
            vlan = str(config.vlan.vlan) if config.vlan.vlan else "-"
            spoof = "on" if config.spoofchk else "off"
            cells += [str(config.mac), vlan, spoof, str(config.link_state)]
        table.add_row(*(Text(c) for c in (*cells, holders.get(vf.address, "-"))))
    return table


def _address(port: dict[str, Any]) -> str:
    fixed = port.get("fixed_ips") or []
    return str(fixed[0]["ip_address"]) if fixed else "-"
