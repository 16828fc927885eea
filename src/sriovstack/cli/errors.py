"""The one table from sriovstack errors to exit codes, and the one-line message a person reads."""

from __future__ import annotations

from sriovstack.domain.errors import (
    Conflict,
    InvalidInput,
    KernelError,
    NotFound,
    SriovstackError,
    VerificationFailed,
)

EXIT_CODES: tuple[tuple[type[SriovstackError], int], ...] = (
    (InvalidInput, 2),
    (NotFound, 3),
    (Conflict, 4),
    (KernelError, 5),
    (VerificationFailed, 6),
    (SriovstackError, 1),
)
"""Most specific first; 2 is also what the command line parser uses for a usage error."""


def exit_code(error: SriovstackError) -> int:
    return next(code for kind, code in EXIT_CODES if isinstance(error, kind))


def one_line(error: BaseException) -> str:
    return "sriovstack: error: " + " ".join(str(error).split())
