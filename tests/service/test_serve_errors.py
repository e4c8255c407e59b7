"""``router serve`` that cannot start says why in one ``error:`` line and exits 2: a port
in use, an address that is not one, a journal it cannot reach. Run as the real command."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.conftest import TOKENS
from tests.service.processes import ROUTER


def _serve(
    *args: str, tmp_path: Path, db: str | None = None, **environ: str
) -> subprocess.CompletedProcess[str]:
    db = db or f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}"
    return subprocess.run(
        [*ROUTER, "serve", "--scenario", "calm", "--db", db, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "ROUTER_API_TOKENS": TOKENS, **environ},
        timeout=120,
        check=False,
    )


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("error: ")
    assert done.returncode == 2
    assert done.stdout == ""
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def test_a_port_in_use_is_one_error_line(taken_port: int, tmp_path: Path) -> None:
    line = _one_error_line(_serve("--port", str(taken_port), tmp_path=tmp_path))
    assert line == f"error: cannot listen on 127.0.0.1:{taken_port}: Address already in use"
    # refused before the journal was opened
    assert not (tmp_path / "journal.db").exists()


@pytest.mark.parametrize(
    ("args", "environ", "expected"),
    [
        (["--host", "999.1.1.1"], {}, "error: --host 999.1.1.1: expected an IP address"),
        (["--port", "70000"], {}, "error: --port 70000: expected 0 to 65535"),
        (
            [],
            {"ROUTER__SERVICE__HOST": "999.1.1.1"},
            "error: default.toml + environment: service.host (from ROUTER__SERVICE__HOST)",
        ),
    ],
    ids=["host", "port", "configured-host"],
)
def test_an_invalid_address_is_one_error_line(
    args: list[str], environ: dict[str, str], expected: str, tmp_path: Path
) -> None:
    line = _one_error_line(_serve(*args, tmp_path=tmp_path, **environ))
    assert line.startswith(expected), line


def test_an_address_that_is_not_local_is_one_error_line(tmp_path: Path) -> None:
    """192.0.2.1 (TEST-NET-1) is never this machine's: nothing can listen on it."""
    line = _one_error_line(_serve("--host", "192.0.2.1", "--port", "0", tmp_path=tmp_path))
    assert line.startswith("error: cannot listen on 192.0.2.1:0: "), line


def test_an_unreachable_journal_is_one_error_line_without_its_password(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://nobody:hunter2@127.0.0.1:1/x"
    done = _serve("--port", "0", tmp_path=tmp_path, db=url)
    line = _one_error_line(done)
    assert line.startswith("error: journal postgresql+asyncpg://nobody:***@127.0.0.1:1/x: "), line
    assert "hunter2" not in done.stderr


def test_an_invalid_journal_url_is_one_error_line(tmp_path: Path) -> None:
    line = _one_error_line(_serve("--port", "0", tmp_path=tmp_path, db="not a url"))
    assert line.startswith("error: journal invalid URL: "), line
