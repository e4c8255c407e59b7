"""One name per option: ``--db`` is always the journal, ``--url`` always the service's API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from router.cli import app

JOURNAL_COMMANDS = {
    "serve",
    "audit",
    "simulate",
    "guard",
    "chaos",
    "db upgrade",
    "db downgrade",
    "db current",
    "journal export",
    "journal stats",
}
API_COMMANDS = {
    "close",
    "closes",
    "status",
    "cancel",
    "liquidity",
    "venues",
    "hedge list",
    "hedge unwind",
}


def _commands(group: TyperGroup, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every command of the ``router`` app by its path (``db upgrade``), groups walked."""
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, TyperGroup):
            yield from _commands(command, f"{path} ")
        else:
            yield path, command


def _options(command: Any) -> dict[str, Any]:
    return {name: param for param in command.params for name in param.opts}


ROOT = typer.main.get_command(app)
assert isinstance(ROOT, TyperGroup)
COMMANDS = dict(_commands(ROOT))


def test_every_journal_command_takes_the_journal_as_db() -> None:
    for path in JOURNAL_COMMANDS:
        options = _options(COMMANDS[path])
        assert "--db" in options, path
        assert "--url" not in options, path


def test_url_is_only_the_api_and_reads_router_api_url() -> None:
    with_url = {path for path, command in COMMANDS.items() if "--url" in _options(command)}
    assert with_url == API_COMMANDS
    for path in with_url:
        assert _options(COMMANDS[path])["--url"].envvar == "ROUTER_API_URL", path


def test_db_is_only_the_journal() -> None:
    with_db = {path for path, command in COMMANDS.items() if "--db" in _options(command)}
    assert with_db == JOURNAL_COMMANDS


def test_a_journal_command_refuses_url() -> None:
    result = CliRunner().invoke(app, ["db", "current", "--url", "sqlite+aiosqlite:///x.db"])
    assert result.exit_code == 2
    assert "No such option" in result.output
