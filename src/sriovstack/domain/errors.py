"""The one error tree of sriovstack; presentation (exit codes, HTTP) is mapped elsewhere.

SriovstackError
├── InvalidInput        bad value from a person or a file: names the field and the rule
├── NotFound            an unknown PF, VF, profile, netdev ...
├── Conflict            the request is valid but the current state refuses it
│   ├── VFsInUse        a VF that would vanish is bound, held by a guest or claimed
│   ├── FilterTableFull the NIC's MAC or VLAN filter table has no room
│   └── ConcurrentUpdate another writer changed the same rows first; nothing was saved
├── KernelError         the kernel (real or simulated) refused a call; carries errno
├── StoreUnavailable    the database cannot be reached or opened; trying later may succeed
└── VerificationFailed  a change was accepted but reading it back shows something else
"""

from __future__ import annotations

import errno as _errno
import os


class SriovstackError(Exception):
    """Base of every error sriovstack raises on purpose."""


class InvalidInput(SriovstackError):
    """A value breaks a rule; the message names the field and the rule."""

    def __init__(self, field: str, rule: str, value: object = None) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        shown = "" if value is None else f" (got {value!r})"
        super().__init__(f"{field}: {rule}{shown}")


class NotFound(SriovstackError):
    """Something named does not exist."""

    def __init__(self, kind: str, key: object, hint: str = "") -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!s} not found" + (f": {hint}" if hint else ""))


class Conflict(SriovstackError):
    """The request is well formed but the current state refuses it."""


class VFsInUse(Conflict):
    """VFs that a change would remove or reset are in use."""

    def __init__(self, pf: str, in_use: list[str]) -> None:
        self.pf = pf
        self.in_use = in_use
        super().__init__(
            f"{pf}: VFs in use would vanish: {', '.join(in_use)} (use --force to go ahead anyway)"
        )


class FilterTableFull(Conflict):
    """A NIC filter table (unicast MAC or VLAN) has no free entry."""

    def __init__(self, pf: str, table: str, capacity: int) -> None:
        self.pf = pf
        self.table = table
        self.capacity = capacity
        super().__init__(f"{pf}: the NIC's {table} filter table is full ({capacity} entries)")


class ConcurrentUpdate(Conflict):
    """Another writer changed or took the same rows first; the whole change was undone.

    Trying again may succeed: the store translates lost races (a row's version moved on, a
    unique key already taken, a lock not had in time) into this error.
    """

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"another writer changed the same data first; nothing was saved: {detail}")


class KernelError(SriovstackError):
    """The kernel refused a call; ``errno`` is the POSIX error number it returned."""

    def __init__(self, err: int, op: str, target: str, detail: str = "") -> None:
        self.errno = err
        self.op = op
        self.target = target
        self.detail = detail
        # Python names 95 ENOTSUP; Linux tools and the kernel sources say EOPNOTSUPP.
        name = "EOPNOTSUPP" if err == _errno.EOPNOTSUPP else _errno.errorcode.get(err, str(err))
        text = os.strerror(err)
        extra = f": {detail}" if detail else ""
        super().__init__(f"{op} {target}: {name} ({text}){extra}")


class StoreUnavailable(SriovstackError):
    """The database cannot be reached or opened: a server down or refusing the login, a file
    that cannot be opened. Nothing was saved; the same request may succeed once it is back."""

    def __init__(self, database: str, reason: str) -> None:
        self.database = database  # fit to show: the store masks the password
        self.reason = reason
        super().__init__(f"the database {database} is unreachable: {reason}")


class VerificationFailed(SriovstackError):
    """The kernel accepted a change but reading it back disagrees."""


class Unauthenticated(SriovstackError):
    """No valid credentials: a missing, wrong or expired token or password."""

    def __init__(self, detail: str = "The request you have made requires authentication.") -> None:
        super().__init__(detail)


class Forbidden(SriovstackError):
    """The caller is known but its role does not allow this."""


class InUse(Conflict):
    """A resource is still used by another and cannot be changed or removed."""
