"""``router chaos`` end to end: a CI-sized session of storms and crash-restarts."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from router.cli import app


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
