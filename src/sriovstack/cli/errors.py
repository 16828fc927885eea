"""The one table from sriovstack errors to exit codes, and the one-line message a person reads."""

from __future__ import annotations

import re

from sriovstack.client import ApiError
from sriovstack.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    KernelError,
    NotFound,
    SriovstackError,
    StoreUnavailable,
    Unauthenticated,
    VerificationFailed,
)

EXIT_CODES: tuple[tuple[type[SriovstackError], int], ...] = (
    (InvalidInput, 2),
    (NotFound, 3),
    (Conflict, 4),
    (KernelError, 5),
    (VerificationFailed, 6),
    (Unauthenticated, 7),
    (Forbidden, 7),
    (StoreUnavailable, 1),
    (SriovstackError, 1),
)
"""Most specific first; 2 is also what the command line parser uses for a usage error.

1 is also "something the command needs did not answer": a database that cannot be reached or
opened, like an API server that does not answer; nothing in the request was wrong.
"""

HTTP_EXIT_CODES = {400: 2, 401: 7, 403: 7, 404: 3, 409: 4}
"""The API's refusals by HTTP status, on the same codes; 7 is "not allowed"; anything else
(a 503 for a database the server cannot reach, a 500) is 1."""

PREFIX = "sriovstack: error: "
_NEGATIVE = re.compile(r"-[0-9]+")


def exit_code(error: SriovstackError) -> int:
    return next(code for kind, code in EXIT_CODES if isinstance(error, kind))


def api_exit_code(error: ApiError) -> int:
    return HTTP_EXIT_CODES.get(error.status, 1)


def one_line(error: BaseException) -> str:
    return PREFIX + _squeeze(str(error))


def usage_line(error: Exception) -> str:
    """A parser error as one line naming the option, with where to find help; "" if none."""
    format_message = getattr(error, "format_message", None)
    text = _squeeze(format_message() if callable(format_message) else str(error))
    option = getattr(error, "option_name", None)
    if isinstance(option, str) and _NEGATIVE.fullmatch(option):
        # The parser reads a bare "-1" as an unknown option; say the rule the person broke.
        text = f"{option}: counts and VF indexes must be 0 or more"
    if not text:
        return ""
    ctx = getattr(error, "ctx", None)
    path = getattr(ctx, "command_path", None)
    return PREFIX + text + (f" (see `{path} --help`)" if path else "")


def os_error_line(error: OSError) -> str:
    """A file the command line itself could not read or write, e.g. a state or export path."""
    where = f"{error.filename}: " if error.filename is not None else ""
    return PREFIX + where + _squeeze(error.strerror or str(error))


def _squeeze(text: str) -> str:
    return " ".join(text.split())
