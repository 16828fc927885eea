"""How full a PF's NIC filter tables are (unicast MAC and VLAN entries), per the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from sriovstack.domain.catalogue import NicModel, load_catalogue
from sriovstack.domain.inventory import PFEntry
from sriovstack.domain.observed import FdbEntry


@dataclass(frozen=True, slots=True)
class TableUse:
    """Entries used and the table's capacity; ``capacity`` is None for a NIC we do not know."""

    table: str
    used: int
    capacity: int | None

    @property
    def free(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.used, 0)

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.used >= self.capacity


def model_of(pf: PFEntry) -> NicModel | None:
    return load_catalogue().get(pf.model) if pf.model else None


def mac_table(pf: PFEntry, fdb: list[FdbEntry]) -> TableUse:
    """Unicast MAC filters in use on a PF's port.

    The PF's own MAC takes one entry and every unicast FDB entry another. On pool-based NICs
    (82576, I350, 82599, X540, X550) the table is shared with the VFs, so each VF MAC the host
    set takes one too; other NICs give each VF its own allowance.
    """
    model = model_of(pf)
    used = 1 + sum(1 for e in fdb if e.mac.is_unicast)
    if model is None or model.mac_filters_shared:
        used += sum(1 for vf in pf.vfs if vf.config is not None and not vf.config.mac.is_zero)
    return TableUse("unicast MAC", used, model.mac_filters if model else None)


def vlan_table(pf: PFEntry) -> TableUse:
    """Distinct port VLANs of a PF's VFs against a shared VLAN filter table."""
    model = model_of(pf)
    used = len({vf.config.vlan.vlan for vf in pf.vfs if vf.config and vf.config.vlan.vlan})
    shared = model is not None and model.vlan_filters_shared
    return TableUse("VLAN", used, model.vlan_filters if shared and model else None)
