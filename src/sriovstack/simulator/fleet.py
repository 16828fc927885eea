"""Simulated fleets without simulated kernels: agent reports for many hosts, built directly.

Benchmarks and large tests need thousands of hosts; simulating each kernel would measure the
simulator. These reports have the shape an agent sends for a host with X540 ports (8086:1528,
VFs 8086:1515, 63 VFs each), ARI routing function ``offset + 2 * index`` as on that NIC.
"""

from __future__ import annotations

from sriovstack.domain.addresses import PciAddress, vf_address
from sriovstack.domain.reporting import CellFacts, HostFacts, HostReport, ReportedPF, ReportedVF

X540_VENDOR, X540_DEVICE, X540_VF_DEVICE = 0x8086, 0x1528, 0x1515
X540_TOTAL_VFS, X540_OFFSET, X540_STRIDE = 63, 128, 2


def host_name(index: int) -> str:
    return f"compute-{index:05d}"


def synthetic_report(
    host: str,
    *,
    pfs: int = 2,
    vfs_per_pf: int = 63,
    physnet: str | None = "physnet1",
    cpus: int = 64,
    memory_mib: int = 256 * 1024,
    numa_cells: int = 2,
    availability_zone: str = "nova",
    tags: tuple[tuple[str, str], ...] = (),
    offered_whole: bool = False,
) -> HostReport:
    """A host with ``pfs`` X540 ports, each with ``vfs_per_pf`` VFs on ``physnet``.

    PF ``i`` sits on bus ``3 + i // 2`` and NUMA node ``i % numa_cells``.
    """
    if not 0 <= vfs_per_pf <= X540_TOTAL_VFS:
        raise ValueError(f"an X540 port has at most {X540_TOTAL_VFS} VFs")
    reported = []
    for i in range(pfs):
        address = PciAddress(0, 3 + i // 2, 0, i % 2)
        reported.append(
            ReportedPF(
                address=address,
                vendor_id=X540_VENDOR,
                device_id=X540_DEVICE,
                vf_device_id=X540_VF_DEVICE,
                netdev=f"enp{address.bus}s0f{address.function}",
                numa_node=i % numa_cells if numa_cells else None,
                total_vfs=X540_TOTAL_VFS,
                physnet=physnet,
                tags=tags,
                offered_whole=offered_whole,
                vfs=tuple(
                    ReportedVF(
                        index,
                        vf_address(address, offset=X540_OFFSET, stride=X540_STRIDE, index=index),
                    )
                    for index in range(vfs_per_pf)
                ),
            )
        )
    cells = tuple(CellFacts(i, i) for i in range(numa_cells))
    facts = HostFacts(cpus, memory_mib, cells, availability_zone)
    return HostReport(host, facts, tuple(reported))
