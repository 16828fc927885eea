"""The CLI starts fast: quick commands do not import the control plane's or a real host's libraries.

Importing FastAPI, SQLAlchemy and Alembic took `sriovstack version` from a few tenths of a second
to about two; the commands that need them (serve, up, demo, agent, ping, trace, lease) import them
when they run. Each case runs in a fresh interpreter, since this one has imported them already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The API server, the store, libvirt, and netlink (pyroute2: a real host's kernel only).
HEAVY = [
    "alembic",
    "fastapi",
    "libvirt",
    "psycopg",
    "pyroute2",
    "sqlalchemy",
    "starlette",
    "uvicorn",
]

# argv is None: import the CLI only; else run it with argv, output discarded. Typer builds every
# command's options on each run, so a run also checks that their annotations need none of them.
_PROBE = """
import contextlib, io, json, sys
import sriovstack.cli.main
argv = json.loads(sys.argv[1])
if argv is not None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = sriovstack.cli.main.main(argv)
    if code != 0:
        sys.exit(f"sriovstack {' '.join(argv)}: exit {code}")
heavy = set(json.loads(sys.argv[2]))
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)))
"""


def _imported(argv: list[str] | None, cwd: Path) -> list[str]:
    # No SRIOVSTACK_* or OS_* variables: the caller's cloud or state must not change the run.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SRIOVSTACK_", "OS_"))}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv), json.dumps(HEAVY)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout)
    return modules


def test_importing_the_cli_imports_none_of_the_heavy_libraries(tmp_path: Path) -> None:
    assert _imported(None, tmp_path) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["version"],
        ["--help"],
        ["demo", "--help"],
        ["host", "show", "--simulate", "talk-after", "--json"],
    ],
    ids=["version", "help", "demo-help", "host-show-simulated"],
)
def test_quick_commands_import_none_of_the_heavy_libraries(argv: list[str], tmp_path: Path) -> None:
    assert _imported(argv, tmp_path) == []
