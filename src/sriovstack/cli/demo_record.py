"""What a step of ``sriovstack demo`` showed, found and checked, shown to people as it happens."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, RenderableType
from rich.text import Text

PLAIN_WIDTH = 120  # what ``--json`` renders tables at: wide enough for IDs and addresses


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation of a step and whether the demo saw it hold."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class StepLog:
    """One step's record: what it showed (as text, for ``--json``), its checks and its facts.

    ``show`` puts what the step shows in front of people as soon as it has it; ``progress``
    says what the step is waiting for (an agent's cycles, a trace).
    """

    number: int
    title: str
    expected: str
    show: Callable[[RenderableType], None] = lambda _: None
    progress: Callable[[str], None] = lambda _: None
    shown: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Every check held, there was one at least, and nothing broke on the way."""
        return self.error is None and bool(self.checks) and all(c.ok for c in self.checks)

    def say(self, *items: RenderableType) -> None:
        """Output, as the talk's slides print it."""
        for item in items:
            shown = Text(item) if isinstance(item, str) else item
            self.shown.extend(plain_lines(shown))
            self.show(shown)

    def command(self, text: str) -> None:
        """A command as typed at a shell prompt (``$`` or ``#``, as in the talk)."""
        self.shown.append(text)
        self.show(Text(text, style="bold"))

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        """Record an expectation; shown with a mark, and its detail when it failed."""
        self.checks.append(Check(name, ok, detail))
        mark = Text("  ✓ " if ok else "  ✗ ", style="green" if ok else "bold red")
        mark.append(name)
        if detail and not ok:
            mark.append(f": {detail}", style="red")
        self.shown.append(mark.plain)
        self.show(mark)
        return ok

    def fail(self, error: BaseException) -> None:
        """The step broke: what broke is its outcome."""
        self.error = f"{type(error).__name__}: {error}"
        line = Text(f"  error: {self.error}", style="bold red")
        self.shown.append(line.plain)
        self.show(line)

    def report(self) -> dict[str, Any]:
        """The step for ``--json``."""
        return {
            "step": self.number,
            "title": self.title,
            "ok": self.ok,
            "expected": self.expected,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "facts": self.facts,
            "error": self.error,
            "shown": self.shown,
        }


def plain_lines(item: RenderableType) -> list[str]:
    """A renderable as the lines of plain text it prints (tables, trees) for ``--json``."""
    if isinstance(item, Text):
        return item.plain.splitlines() or [""]
    buffer = io.StringIO()
    plain = Console(file=buffer, width=PLAIN_WIDTH, color_system=None, emoji=False, markup=False)
    plain.print(item)
    return [line.rstrip() for line in buffer.getvalue().splitlines()]
