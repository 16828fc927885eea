"""The NIC catalogue: SR-IOV facts per NIC model, loaded and validated from nics.toml."""

from __future__ import annotations

import enum
import functools
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from types import MappingProxyType

from sriovstack.domain.errors import InvalidInput, NotFound

CATALOGUE_PACKAGE = "sriovstack.domain"
CATALOGUE_RESOURCE = "nics.toml"

_HEX_ID = re.compile(r"[0-9a-fA-F]{4}")
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]*")


class VfLayout(enum.StrEnum):
    """How the VFs of a multi-port card's PFs are placed in routing-ID space."""

    # Every PF reports the same First VF Offset; the PFs' VFs interleave through the stride.
    INTERLEAVED = "interleaved"
    # PF k's offset is moved so that its first VF follows PF k-1's last VF.
    CONSECUTIVE = "consecutive"


@dataclass(frozen=True, slots=True)
class NicModel:
    """One NIC model of the catalogue; the field meanings are documented in nics.toml."""

    key: str
    name: str
    vendor_id: int
    vendor_name: str
    pf_devices: Mapping[int, str] = field(hash=False)
    vf_device_id: int
    vf_device_name: str
    pf_driver: str
    vf_driver: str
    ports: int
    link_speed_mbps: int
    total_vfs_hw: int
    total_vfs_linux: int
    vf_layout: VfLayout
    vf_offset_ari: int
    vf_stride_ari: int
    vf_offset_noari: int
    vf_stride_noari: int
    vf_bar_bytes: int
    mac_filters: int
    mac_filters_shared: bool
    vf_mac_limit: int
    vlan_filters: int
    vlan_filters_shared: bool
    vf_vlan_limit: int
    spoofchk_default: bool
    reports_spoofchk: bool
    reports_trust: bool
    reports_query_rss: bool
    supports_8021ad: bool
    supports_min_rate: bool
    firmware_sriov_toggle: bool
    sources: str
    hedges: str

    def __post_init__(self) -> None:
        # Copy into a read-only view so no caller can change the catalogue behind our back.
        object.__setattr__(self, "pf_devices", MappingProxyType(dict(self.pf_devices)))
        _check_model(self)

    def vf_stride(self, *, ari: bool) -> int:
        """VF Stride of every PF of this model, with or without ARI."""
        return self.vf_stride_ari if ari else self.vf_stride_noari

    def vf_offset(self, pf_function: int, *, ari: bool) -> int:
        """First VF Offset reported by the PF at function ``pf_function`` of the card.

        VF ``i`` of that PF then sits at routing ID
        ``PF.RID + vf_offset(pf_function) + vf_stride() * i``.
        """
        if not 0 <= pf_function < self.ports:
            raise InvalidInput(
                "pf_function", f"must be 0..{self.ports - 1} on {self.name}", pf_function
            )
        offset = self.vf_offset_ari if ari else self.vf_offset_noari
        if self.vf_layout is VfLayout.INTERLEAVED:
            return offset
        # PF k sits one function after PF k-1, and its first VF must land one stride after
        # PF k-1's last VF, so each PF's offset grows by stride * TotalVFs - 1.
        return offset + pf_function * (self.vf_stride(ari=ari) * self.total_vfs_linux - 1)


def _check_model(model: NicModel) -> None:
    """Rules between fields; the parser has already checked each field's type and form."""
    label = f"nic[{model.key}]"
    if not model.pf_devices:
        raise InvalidInput(f"{label}.pf_devices", "must list at least one PF device id")
    if model.vf_device_id in model.pf_devices:
        raise InvalidInput(
            f"{label}.vf_device_id", "must differ from the PF device ids", model.vf_device_id
        )
    if model.total_vfs_linux > model.total_vfs_hw:
        raise InvalidInput(
            f"{label}.total_vfs_linux",
            f"must not exceed total_vfs_hw ({model.total_vfs_hw}): a driver can only lower it",
            model.total_vfs_linux,
        )
    if model.vf_bar_bytes & (model.vf_bar_bytes - 1):
        raise InvalidInput(f"{label}.vf_bar_bytes", "must be a power of two", model.vf_bar_bytes)
    for offset_name in ("vf_offset_ari", "vf_offset_noari"):
        if getattr(model, offset_name) < model.ports:
            raise InvalidInput(
                f"{label}.{offset_name}",
                f"must be at least ports ({model.ports}): VFs cannot overlap the PFs",
                getattr(model, offset_name),
            )
    if model.vf_layout is VfLayout.INTERLEAVED:
        for stride_name in ("vf_stride_ari", "vf_stride_noari"):
            if getattr(model, stride_name) < model.ports:
                raise InvalidInput(
                    f"{label}.{stride_name}",
                    f"an interleaved layout needs a stride of at least ports ({model.ports})",
                    getattr(model, stride_name),
                )
    for cap, table in (("vf_mac_limit", "mac_filters"), ("vf_vlan_limit", "vlan_filters")):
        if getattr(model, cap) > getattr(model, table):
            raise InvalidInput(f"{label}.{cap}", f"must not exceed {table}", getattr(model, cap))


class Catalogue:
    """The known NIC models, looked up by key or by PCI vendor and device id."""

    __slots__ = ("_by_key", "_by_pci", "models")

    def __init__(self, models: Iterable[NicModel]) -> None:
        self.models: tuple[NicModel, ...] = tuple(models)
        self._by_key: dict[str, NicModel] = {}
        self._by_pci: dict[tuple[int, int], NicModel] = {}
        for model in self.models:
            label = f"nic[{model.key}]"
            if model.key in self._by_key:
                raise InvalidInput(f"{label}.key", "duplicate key: each model needs its own")
            self._by_key[model.key] = model
            for device_id in model.pf_devices:
                self._claim(model, device_id, f"{label}.pf_devices")
            self._claim(model, model.vf_device_id, f"{label}.vf_device_id")

    def _claim(self, model: NicModel, device_id: int, where: str) -> None:
        pci_id = (model.vendor_id, device_id)
        other = self._by_pci.get(pci_id)
        if other is not None:
            raise InvalidInput(
                where,
                f"PCI id {model.vendor_id:04x}:{device_id:04x} is already listed by {other.key}",
            )
        self._by_pci[pci_id] = model

    def __iter__(self) -> Iterator[NicModel]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def get(self, key: str) -> NicModel:
        """The model with this key; NotFound names the known keys."""
        try:
            return self._by_key[key]
        except KeyError:
            known = ", ".join(sorted(self._by_key))
            raise NotFound("NIC model", key, f"known models: {known}") from None

    def by_pci_id(self, vendor_id: int, device_id: int) -> NicModel | None:
        """The model whose PF or VF has this vendor:device id, or None."""
        return self._by_pci.get((vendor_id, device_id))


# ----------------------------------------------------------------------------------- parsing

_FIELD_NAMES = tuple(f.name for f in fields(NicModel))


def parse_catalogue(text: str) -> Catalogue:
    """Parse and validate catalogue TOML; InvalidInput names the entry and the field."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(CATALOGUE_RESOURCE, f"not valid TOML: {exc}") from None
    for name in document:
        if name != "nic":
            raise InvalidInput(name, "unknown top-level key; only [[nic]] tables belong here")
    entries = document.get("nic")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput("nic", "must be a non-empty array of [[nic]] tables")
    return Catalogue(_parse_entry(entry, index) for index, entry in enumerate(entries))


def _parse_entry(entry: object, index: int) -> NicModel:
    if not isinstance(entry, dict):
        raise InvalidInput(f"nic[#{index}]", "must be a table")
    key = entry.get("key")
    label = f"nic[{key}]" if isinstance(key, str) and _KEY.fullmatch(key) else f"nic[#{index}]"
    for name in entry:
        if name not in _FIELD_NAMES:
            raise InvalidInput(f"{label}.{name}", "unknown field")
    for name in _FIELD_NAMES:
        if name not in entry:
            raise InvalidInput(f"{label}.{name}", "missing")

    def at(name: str) -> tuple[object, str]:
        return entry[name], f"{label}.{name}"

    return NicModel(
        key=_key(*at("key")),
        name=_text(*at("name")),
        vendor_id=_hex_id(*at("vendor_id")),
        vendor_name=_text(*at("vendor_name")),
        pf_devices=_pf_devices(*at("pf_devices")),
        vf_device_id=_hex_id(*at("vf_device_id")),
        vf_device_name=_text(*at("vf_device_name")),
        pf_driver=_text(*at("pf_driver")),
        vf_driver=_text(*at("vf_driver")),
        ports=_integer(*at("ports"), minimum=1),
        link_speed_mbps=_integer(*at("link_speed_mbps"), minimum=1),
        total_vfs_hw=_integer(*at("total_vfs_hw"), minimum=1),
        total_vfs_linux=_integer(*at("total_vfs_linux"), minimum=1),
        vf_layout=_layout(*at("vf_layout")),
        vf_offset_ari=_integer(*at("vf_offset_ari"), minimum=1),
        vf_stride_ari=_integer(*at("vf_stride_ari"), minimum=1),
        vf_offset_noari=_integer(*at("vf_offset_noari"), minimum=1),
        vf_stride_noari=_integer(*at("vf_stride_noari"), minimum=1),
        vf_bar_bytes=_integer(*at("vf_bar_bytes"), minimum=1),
        mac_filters=_integer(*at("mac_filters"), minimum=1),
        mac_filters_shared=_flag(*at("mac_filters_shared")),
        vf_mac_limit=_integer(*at("vf_mac_limit"), minimum=0),
        vlan_filters=_integer(*at("vlan_filters"), minimum=1),
        vlan_filters_shared=_flag(*at("vlan_filters_shared")),
        vf_vlan_limit=_integer(*at("vf_vlan_limit"), minimum=0),
        spoofchk_default=_flag(*at("spoofchk_default")),
        reports_spoofchk=_flag(*at("reports_spoofchk")),
        reports_trust=_flag(*at("reports_trust")),
        reports_query_rss=_flag(*at("reports_query_rss")),
        supports_8021ad=_flag(*at("supports_8021ad")),
        supports_min_rate=_flag(*at("supports_min_rate")),
        firmware_sriov_toggle=_flag(*at("firmware_sriov_toggle")),
        sources=_text(*at("sources")),
        hedges=_text(*at("hedges"), allow_empty=True),
    )


def _key(value: object, where: str) -> str:
    text = _text(value, where)
    if not _KEY.fullmatch(text):
        raise InvalidInput(where, "must be a short lower-case id like x540", text)
    return text


def _layout(value: object, where: str) -> VfLayout:
    try:
        return VfLayout(_text(value, where))
    except ValueError:
        choices = " or ".join(repr(str(layout)) for layout in VfLayout)
        raise InvalidInput(where, f"must be {choices}", value) from None


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(where, "must be true or false", value)
    return value


def _text(value: object, where: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInput(where, "must be a string", value)
    if not allow_empty and not value.strip():
        raise InvalidInput(where, "must not be empty")
    return value


def _integer(value: object, where: str, *, minimum: int) -> int:
    # bool is an int subclass in Python; TOML true/false is not a number.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(where, "must be an integer", value)
    if value < minimum:
        raise InvalidInput(where, f"must be at least {minimum}", value)
    return value


def _hex_id(value: object, where: str) -> int:
    if not isinstance(value, str) or not _HEX_ID.fullmatch(value):
        raise InvalidInput(where, 'must be a 4-digit hex PCI id string like "8086"', value)
    return int(value, 16)


def _pf_devices(value: object, where: str) -> dict[int, str]:
    if not isinstance(value, dict) or not value:
        raise InvalidInput(where, 'must be a table of "device id" = "pci.ids name"', value)
    devices: dict[int, str] = {}
    for raw_id, device_name in value.items():
        device_id = _hex_id(raw_id, f"{where}.{raw_id}")
        if device_id in devices:
            raise InvalidInput(f"{where}.{raw_id}", "listed twice (ids are case-insensitive)")
        devices[device_id] = _text(device_name, f"{where}.{raw_id}")
    return devices


@functools.cache
def load_catalogue() -> Catalogue:
    """The catalogue shipped with the package (nics.toml), parsed once."""
    text = resources.files(CATALOGUE_PACKAGE).joinpath(CATALOGUE_RESOURCE).read_text("utf-8")
    return parse_catalogue(text)
