"""Each contract case once per session: the simulated host, its export and a LinuxKernel on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.contract.hosts import Case, Exported, cases

from sriovstack.host.linux import LinuxKernel
from sriovstack.simulator.exporting import export_host


@pytest.fixture(scope="session", params=cases(), ids=lambda c: c.id)
def exported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exported]:
    case: Case = request.param
    sim = case.build()
    root = tmp_path_factory.mktemp(case.id.replace("/", "-"))
    export_host(sim, root)
    # rtnetlink off: the exported netdevs are not this machine's, whatever their names
    with LinuxKernel(root / "sys", rtnetlink=False) as linux:
        yield Exported(case, sim, linux)
