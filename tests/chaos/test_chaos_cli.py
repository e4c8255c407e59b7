"""``router chaos`` end to end: CI-sized sessions of every kind of run."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from router.chaos.dbrestart import PostgresCluster, ServerControlError
from router.cli import app
from tests.journal.conftest import postgres_url, require_postgres


def test_a_small_session_injects_faults_kills_the_router_and_finds_nothing() -> None:
    result = CliRunner().invoke(
        app, ["chaos", "--runs", "5", "--seed", "1", "--crashes", "2", "--json"]
    )
    summary = json.loads(result.stdout)
    assert result.exit_code == 0, summary["examples"]
    assert summary["violations"] == {}
    assert summary["unhandled"] == 0
    assert (summary["runs"], summary["crash_runs"]) == (5, 2)
    assert summary["faults_total"] > 0
    assert len(summary["faults_injected"]) >= 3
    assert all(count > 0 for count in summary["faults_injected"].values())
    assert summary["crashes"] > 0
    assert sum(summary["outcomes"].values()) == 7
    assert set(summary["outcomes"]) <= {"FLAT", "HEDGED", "STRANDED"}


def test_the_text_summary_names_runs_faults_and_outcomes() -> None:
    result = CliRunner().invoke(app, ["chaos", "--runs", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "2 storm runs, 0 crash runs" in result.output
    assert "outcomes" in result.output
    assert "unhandled exceptions: 0" in result.output


@pytest.mark.serial
def test_two_routers_and_a_database_restart_on_postgresql_find_nothing() -> None:
    """The PostgreSQL kinds end to end: two routers on one journal with the owner killed,
    and the journal's server restarted mid-close (each run a fresh database)."""
    require_postgres()
    try:
        PostgresCluster.serving(postgres_url("postgres"))
    except ServerControlError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"cannot restart the PostgreSQL server here: {exc}")
    result = CliRunner().invoke(
        app,
        [
            "chaos",
            "--runs",
            "0",
            "--seed",
            "1",
            "--takeovers",
            "2",
            "--db-restarts",
            "2",
            "--db",
            postgres_url("postgres"),
            "--json",
        ],
    )
    summary = json.loads(result.stdout)
    assert result.exit_code == 0, summary["examples"]
    assert summary["violations"] == {}
    assert (summary["takeover_runs"], summary["db_restart_runs"]) == (2, 2)
    assert sum(summary["outcomes"].values()) == 4


def test_postgresql_kinds_need_a_postgresql_journal() -> None:
    result = CliRunner().invoke(app, ["chaos", "--runs", "0", "--takeovers", "1"])
    assert result.exit_code == 2
    assert "need a PostgreSQL server" in result.output
