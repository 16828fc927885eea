"""Nova's ``[pci] device_spec`` (once ``passthrough_whitelist``): which PCI functions it offers."""

from __future__ import annotations

import enum
import json
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sriovstack.domain.addresses import PciAddress
from sriovstack.domain.errors import InvalidInput

ANY = "*"
MAX_DOMAIN, MAX_BUS, MAX_SLOT, MAX_FUNC, MAX_ID = 0xFFFF, 0xFF, 0x1F, 0x7, 0xFFFF

TagValue = str | int | float | None
"""A tag as stored: JSON booleans are turned into "true"/"false"; lists and objects are refused."""

TRUE_WORDS = ("1", "t", "true", "on", "y", "yes")
FALSE_WORDS = ("0", "f", "false", "off", "n", "no")
BOOL_WORDS = ", ".join(f"'{w}'" for w in sorted(TRUE_WORDS + FALSE_WORDS))

STRICT_BOOL_TAGS = ("managed", "live_migratable", "one_time_use")
"""Tags Nova parses strictly as booleans and stores as "true"/"false"."""
HOST_KEYS = ("dev_type", "numa_node", "parent_ifname")
"""Pool keys the host sets; Nova lets a tag of that name overwrite them, which we refuse."""


class DevType(enum.StrEnum):
    """Nova's ``dev_type`` of a PCI function (vdpa devices are not modelled)."""

    PCI = "type-PCI"
    PF = "type-PF"
    VF = "type-VF"


@dataclass(frozen=True, slots=True)
class PciFunction:
    """What a device spec looks at: one PCI function of a host, as Nova's device dict holds it."""

    address: PciAddress
    vendor_id: int
    product_id: int
    dev_type: DevType
    netdev: str | None = None
    parent: PciAddress | None = None  # a VF's PF
    parent_netdev: str | None = None  # a VF's PF's netdev
    numa_node: int | None = None
    vf_product_id: int | None = None  # a PF's VF device ID (sysfs sriov_vf_device)
    card_serial_number: str | None = None  # from the card's VPD; remote-managed specs need it


@dataclass(frozen=True, slots=True)
class AddressGlob:
    """``[[[[domain]:]bus]:][slot][.[function]]``: each field a number or None for ``*``."""

    domain: int | None = None
    bus: int | None = None
    slot: int | None = None
    func: int | None = None

    @property
    def single(self) -> str | None:
        """The one address every field names, or None when a field is a wildcard."""
        parts = (self.domain, self.bus, self.slot, self.func)
        if any(p is None or p < 0 for p in parts):
            return None
        return f"{self.domain:04x}:{self.bus:02x}:{self.slot:02x}.{self.func:x}"

    def match(self, address: PciAddress) -> bool:
        # A negative field (Nova accepts "-1", as Python's int() does) equals no device field.
        pairs = (
            (self.domain, address.domain),
            (self.bus, address.bus),
            (self.slot, address.device),
            (self.func, address.function),
        )
        return all(want is None or want == have for want, have in pairs)


@dataclass(frozen=True, slots=True)
class AddressRegex:
    """``{"domain", "bus", "slot", "function"}``: Python regexes, ``.*`` where missing."""

    domain: str = ".*"
    bus: str = ".*"
    slot: str = ".*"
    function: str = ".*"

    @property
    def single(self) -> str | None:
        """The literal address when every regex is plain hex digits, as Nova decides it."""
        parts = (self.domain, self.bus, self.slot, self.function)
        # Like Nova, an empty regex counts as "plain hex"; the literal then names no device.
        if not all(c in string.hexdigits for part in parts for c in part):
            return None
        return f"{self.domain}:{self.bus}:{self.slot}.{self.function}"

    def match(self, address: PciAddress) -> bool:
        # re.match anchors at the start only, so {"bus": "0"} also matches bus 0a: kept as Nova
        # has it, since operators' specs rely on it; "$" anchors the end.
        pairs = (
            (self.domain, f"{address.domain:04x}"),
            (self.bus, f"{address.bus:02x}"),
            (self.slot, f"{address.device:02x}"),
            (self.function, f"{address.function:x}"),
        )
        return all(re.match(pattern, text) is not None for pattern, text in pairs)


AddressSpec = AddressGlob | AddressRegex


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One device spec: IDs, an address or a devname, and tags that the devices carry into pools."""

    vendor_id: int | None = None  # None: any
    product_id: int | None = None
    address: AddressSpec | None = field(default_factory=AddressGlob)  # None: devname names it
    devname: str | None = None
    tags: tuple[tuple[str, TagValue], ...] = ()
    source: str = ""  # the JSON text or table it came from

    def tag(self, key: str) -> TagValue:
        return dict(self.tags).get(key)

    @property
    def physical_network(self) -> str | None:
        value = self.tag("physical_network")
        return value if isinstance(value, str) else None

    @property
    def remote_managed(self) -> bool:
        # Nova reads remote_managed leniently: anything but a true word means false.
        return read_bool(self.tag("remote_managed"))

    def match(self, function: PciFunction) -> bool:
        """Whether this spec selects ``function``.

        IDs must match where given; an exact PF address or a PF's devname selects the PF and
        its VFs, wildcards and regexes never select a VF through its PF; a remote-managed spec
        needs a VPD card serial number.
        """
        if self.vendor_id is not None and self.vendor_id != function.vendor_id:
            return False
        if self.product_id is not None and self.product_id != function.product_id:
            return False
        if not self._address_matches(function):
            return False
        return not self.remote_managed or bool(function.card_serial_number)

    def _address_matches(self, function: PciFunction) -> bool:
        if self.devname is not None:
            # Quirk fixed on purpose: Nova reads "devname": "" (or null) as no devname, so the
            # spec selects every device; a blank name here names no netdev and selects nothing.
            name = self.devname.strip()
            if not name:
                return False
            # A PF's netdev selects the PF and its VFs; a VF's netdev selects only that VF.
            return name in (function.netdev, function.parent_netdev)
        assert self.address is not None
        single = self.address.single
        if single is not None and function.parent is not None and str(function.parent) == single:
            return True  # an exact PF address also selects the PF's VFs
        return self.address.match(function.address)

    def check_on_host(self, functions: Sequence[PciFunction], *, where: str) -> None:
        """The checks Nova makes against the host when it reads a remote-managed spec."""
        if not self.remote_managed:
            return
        if self.devname is not None:
            named = [f for f in functions if f.netdev == self.devname.strip()]
            if not named:
                raise InvalidInput(
                    where,
                    'a device specified as "remote_managed" is not actually present on the host',
                    self.devname,
                )
            single: str | None = str(named[0].address)
        else:
            assert self.address is not None
            single = self.address.single
        pf = next(
            (f for f in functions if str(f.address) == single and f.dev_type is DevType.PF), None
        )
        if pf is not None:
            self._check_remote_managed_pf(pf, where=where)

    def _check_remote_managed_pf(self, pf: PciFunction, *, where: str) -> None:
        # Nova names the PF here by the repr of its address-spec object, not by an address
        # (and reads sysfs at that bogus path); we use the PF's canonical address.
        vendor_ok = self.vendor_id in (None, pf.vendor_id)
        if vendor_ok and pf.vf_product_id is not None and self.product_id == pf.vf_product_id:
            return  # the spec names the PF's VFs by their own product ID: allowed
        if vendor_ok and self.product_id in (None, pf.product_id):
            raise InvalidInput(
                where, f'PFs must not have the "remote_managed" tag, device address: {pf.address}'
            )
        raise InvalidInput(
            where,
            f"the specified VF vendor ID {_hex4(self.vendor_id)} and product ID "
            f"{_hex4(self.product_id)} do not match the expected VF IDs based on the "
            f"corresponding PF identified by PCI address {pf.address}",
        )

    def describe(self) -> str:
        """The spec as one short line, in its own syntax."""
        return self.source or _compact(self)


@dataclass(frozen=True, slots=True)
class DeviceSpecList:
    """Every device spec of a host, in order: the first spec that matches a function wins."""

    specs: tuple[DeviceSpec, ...] = ()

    def __iter__(self) -> Iterator[DeviceSpec]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def match(self, function: PciFunction) -> DeviceSpec | None:
        # Nova's get_devspec returns the first match, so tags come from the first spec only.
        return next((spec for spec in self.specs if spec.match(function)), None)

    def index(self, spec: DeviceSpec) -> int:
        return next(i for i, s in enumerate(self.specs) if s is spec)

    def check_on_host(
        self, functions: Sequence[PciFunction], *, where: str = "device_spec"
    ) -> None:
        for i, spec in enumerate(self.specs):
            spec.check_on_host(functions, where=f"{where}[{i}]")


def parse_device_spec(
    text: str, *, where: str = "device_spec", report_in_placement: bool = False
) -> tuple[DeviceSpec, ...]:
    """One ``device_spec`` value: JSON text holding an object or a list of objects."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(where, f"is not valid JSON ({exc})", text) from None
    return device_specs_from_data(
        data, where=where, source=text.strip(), report_in_placement=report_in_placement
    )


def device_specs_from_data(
    data: object, *, where: str, source: str = "", report_in_placement: bool = False
) -> tuple[DeviceSpec, ...]:
    """An already decoded value (JSON or a TOML table): a mapping or a list of mappings."""
    if isinstance(data, Mapping):
        return (_one(data, where, source, report_in_placement),)
    if not isinstance(data, list):
        raise InvalidInput(where, "must be a JSON object or a list of objects", source or data)
    specs = []
    for i, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"{where}[{i}]", "must be a JSON object", item)
        specs.append(_one(item, f"{where}[{i}]", _dump(item), report_in_placement))
    return tuple(specs)


def _one(
    data: Mapping[str, object], where: str, source: str, report_in_placement: bool
) -> DeviceSpec:
    rest = dict(data)
    vendor = rest.pop("vendor_id", ANY)
    product = rest.pop("product_id", ANY)
    devname = rest.pop("devname", None)
    if devname is None and "devname" in data:
        devname = ""  # null is as blank as "": it names no netdev (see _address_matches)
    raw_address = rest.pop("address", None)
    if devname is not None and not isinstance(devname, str):
        raise InvalidInput(f"{where}.devname", "must be a netdev name (a string)", devname)
    if devname is not None and _given(raw_address):
        # Nova tests truthiness, so "devname": "" with an address slips through there; a spec
        # that names both is ambiguous whatever the name, so it is refused.
        raise InvalidInput(where, "can name a devname or an address, but not both")
    if devname is not None and report_in_placement:
        raise InvalidInput(
            f"{where}.devname", "is not allowed with [pci] report_in_placement", devname
        )
    address = None if devname is not None else _address(raw_address, f"{where}.address")
    if isinstance(vendor, str):
        vendor = vendor.strip()  # Nova strips vendor_id only
    vendor_id = _hex_field(vendor, "vendor_id", MAX_ID, where=f"{where}.vendor_id")
    product_id = _hex_field(product, "product_id", MAX_ID, where=f"{where}.product_id")
    tags = _tags(rest, where, report_in_placement)
    return DeviceSpec(
        vendor_id=vendor_id,
        product_id=product_id,
        address=address,
        devname=devname,
        tags=tags,
        source=source or _dump(data),
    )


def _given(address: object) -> bool:
    return address not in (None, "", {})


def _address(raw: object, where: str) -> AddressSpec:
    if not _given(raw):
        return AddressGlob()
    if isinstance(raw, str):
        return _glob(raw, where)
    if isinstance(raw, Mapping):
        return _regex(raw, where)
    raise InvalidInput(
        where, "has an incorrect format: give a glob string or a dict of regexes", raw
    )


def _glob(text: str, where: str) -> AddressGlob:
    dbs, _, func_text = text.partition(".")
    # Nova validates the function first, then domain, bus and slot: the first error wins.
    func = _hex_field(func_text.strip(), "func", MAX_FUNC, where=where) if func_text else None
    if not dbs:
        return AddressGlob(func=func)
    fields = dbs.split(":")
    if len(fields) > 3:
        raise InvalidInput(
            where, "has an incorrect format: at most domain:bus:slot before the '.'", text
        )
    # Missing leading fields are wildcards: "00" is a slot, "0a:00" a bus and slot.
    domain, bus, slot = [ANY] * (3 - len(fields)) + [f.strip() or ANY for f in fields]
    return AddressGlob(
        domain=_hex_field(domain, "domain", MAX_DOMAIN, where=where),
        bus=_hex_field(bus, "bus", MAX_BUS, where=where),
        slot=_hex_field(slot, "slot", MAX_SLOT, where=where),
        func=func,
    )


def _regex(data: Mapping[object, object], where: str) -> AddressRegex:
    patterns: dict[str, str] = {}
    for key in ("domain", "bus", "slot", "function"):  # other keys are ignored, as in Nova
        value = data.get(key, ".*")
        if not isinstance(value, str):
            raise InvalidInput(
                where, f"has an incorrect format: {key} must be a regular expression string", value
            )
        try:
            re.compile(value)
        except re.error as exc:
            raise InvalidInput(
                where,
                f"has an incorrect format: {key} is not a valid regular expression ({exc})",
                value,
            ) from None
        patterns[key] = value
    return AddressRegex(**patterns)


def _hex_field(value: object, prop: str, maximum: int, *, where: str) -> int | None:
    """Nova's hex rule: ``*``, or anything Python's ``int(value, 16)`` reads, up to ``maximum``."""
    if value == ANY:
        return None
    if not isinstance(value, str):
        raise InvalidInput(where, f"property {prop} must be a string of hex digits or '*'", value)
    try:
        # int() also takes "0x", surrounding blanks, "_" and a sign, as Nova inherits; a
        # negative value is accepted and never matches.
        number = int(value, 16)
    except ValueError:
        raise InvalidInput(
            where, f"property {prop} ('{value}') does not parse as a hex number"
        ) from None
    if number > maximum:
        raise InvalidInput(
            where,
            f"property {prop} ({value}) is greater than the maximum allowable value ({maximum:X})",
        )
    return number


def _tags(
    rest: Mapping[str, object], where: str, report_in_placement: bool
) -> tuple[tuple[str, TagValue], ...]:
    tags: dict[str, TagValue] = {}
    for key, value in rest.items():
        at = f"{where}.{key}"
        if key in HOST_KEYS:
            raise InvalidInput(at, "is set from the host, not by a device spec")
        tags[key] = _tag_value(key, value, at)
    for key in STRICT_BOOL_TAGS:
        if tags.get(key) is not None:
            tags[key] = "true" if _strict_bool(tags[key], key, f"{where}.{key}") else "false"
    if tags.get("one_time_use") == "true" and not report_in_placement:
        raise InvalidInput(
            f"{where}.one_time_use", "one_time_use=true requires [pci] report_in_placement"
        )
    return tuple(tags.items())


def _tag_value(key: str, value: object, where: str) -> TagValue:
    if key == "physical_network" and not (value is None or isinstance(value, str)):
        # Nova would keep it and never match a network's physnet with it.
        raise InvalidInput(where, "must be a physnet name (a string) or null", value)
    # Quirk fixed on purpose: Nova stores a JSON true as a Python bool, which never equals the
    # "true" a request carries, so {"trusted": true} could never serve a trusted port.
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, str | int | float):
        return value
    raise InvalidInput(where, "a tag must be a string, number, boolean or null", value)


def _strict_bool(value: TagValue, tag: str, where: str) -> bool:
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidInput(
        where,
        f"cannot parse tag '{tag}': unrecognized value '{value}', acceptable values are: "
        f"{BOOL_WORDS}",
    )


def read_bool(value: TagValue) -> bool:
    """Nova's lenient reading: a true word (any case) is true, anything else false."""
    return value is not None and str(value).strip().lower() in TRUE_WORDS


def _hex4(value: int | None) -> str:
    return ANY if value is None else f"{value:04x}"


def _dump(data: Mapping[str, object]) -> str:
    try:
        return json.dumps(data, separators=(", ", ": "))
    except (TypeError, ValueError):
        return repr(dict(data))


def _compact(spec: DeviceSpec) -> str:
    data: dict[str, object] = {}
    if spec.vendor_id is not None:
        data["vendor_id"] = f"{spec.vendor_id:04x}"
    if spec.product_id is not None:
        data["product_id"] = f"{spec.product_id:04x}"
    if spec.devname is not None:
        data["devname"] = spec.devname
    data.update(spec.tags)
    return json.dumps(data)
