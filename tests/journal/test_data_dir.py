"""Where the default journals live: one data directory, whatever the working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from router.journal.db import (
    data_dir,
    default_url,
    journal_url,
    make_engine,
    replays_url,
    sqlite_url,
)


def test_router_data_dir_comes_first(tmp_path: Path) -> None:
    environ = {
        "ROUTER_DATA_DIR": str(tmp_path / "mine"),
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "HOME": str(tmp_path / "home"),
    }
    assert data_dir(environ) == tmp_path / "mine"


def test_then_the_xdg_data_home(tmp_path: Path) -> None:
    environ = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    assert data_dir(environ) == tmp_path / "xdg" / "router"


def test_a_relative_xdg_data_home_is_ignored_as_the_specification_asks(tmp_path: Path) -> None:
    environ = {"XDG_DATA_HOME": "relative/xdg", "HOME": str(tmp_path / "home")}
    assert data_dir(environ) == tmp_path / "home" / ".local" / "share" / "router"


def test_else_the_home_directory(tmp_path: Path) -> None:
    assert data_dir({"HOME": str(tmp_path)}) == tmp_path / ".local" / "share" / "router"


def test_a_relative_router_data_dir_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert data_dir({"ROUTER_DATA_DIR": "state"}) == tmp_path / "state"


def test_the_journal_and_the_replays_are_two_files_there(tmp_path: Path) -> None:
    environ = {"ROUTER_DATA_DIR": str(tmp_path)}
    assert make_url(default_url(environ)).database == str(tmp_path / "journal.db")
    assert make_url(replays_url(environ)).database == str(tmp_path / "replays.db")
    assert default_url(environ).startswith("sqlite+aiosqlite:///")


def test_a_path_with_url_characters_survives_the_url(tmp_path: Path) -> None:
    path = tmp_path / "odd ?#% name" / "journal.db"
    assert make_url(sqlite_url(path)).database == str(path)


def test_an_explicit_url_then_the_environment_then_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ROUTER_JOURNAL_URL", raising=False)
    assert journal_url() == sqlite_url(tmp_path / "journal.db")
    monkeypatch.setenv("ROUTER_JOURNAL_URL", "sqlite+aiosqlite:///from-env.db")
    assert journal_url() == "sqlite+aiosqlite:///from-env.db"
    assert journal_url("sqlite+aiosqlite:///given.db") == "sqlite+aiosqlite:///given.db"


async def test_the_data_directory_is_created_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTER_DATA_DIR", str(tmp_path / "not" / "yet"))
    monkeypatch.delenv("ROUTER_JOURNAL_URL", raising=False)
    engine = make_engine()
    try:
        async with engine.connect():
            pass
    finally:
        await engine.dispose()
    assert (tmp_path / "not" / "yet" / "journal.db").is_file()


def test_tests_never_use_the_real_data_directory() -> None:
    """The session's data directory is a temporary one (tests/conftest.py)."""
    assert data_dir() != Path.home() / ".local" / "share" / "router"
    assert "ROUTER_DATA_DIR" in os.environ
