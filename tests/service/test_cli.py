"""``router serve`` refuses to start without simulated venues or without tokens."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from router.cli import app


def test_serve_needs_a_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_API_TOKENS", "read-token-0123456789:read")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "--scenario" in result.output


def test_serve_needs_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUTER_API_TOKENS", raising=False)
    monkeypatch.delenv("ROUTER_API_TOKENS_FILE", raising=False)
    result = CliRunner().invoke(app, ["serve", "--scenario", "calm"])
    assert result.exit_code == 2
    assert "no API tokens" in result.output


def test_serve_refuses_malformed_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_API_TOKENS", "read-token-0123456789:admin")
    result = CliRunner().invoke(app, ["serve", "--scenario", "calm"])
    assert result.exit_code == 2
    assert "admin" in result.output
    assert "read-token-0123456789" not in result.output
