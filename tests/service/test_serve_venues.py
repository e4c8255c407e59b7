"""``router serve --venues FILE``: real ccxt exchanges from a venues file, here routed by
each venue's ``connect`` table to ``router sim serve`` on loopback (no internet)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from router.cli import app
from tests.service.conftest import TOKENS, TRADE, close_body
from tests.service.processes import (
    ROUTER,
    Router,
    Simulator,
    read_line,
    running_simulator,
    stop,
    write_venues,
)


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    with running_simulator(tmp_path) as running:
        yield running


@pytest.fixture
def serve_venues(tmp_path: Path, simulator: Simulator) -> Iterator[Any]:
    processes: list[subprocess.Popen[str]] = []

    def start(*, dry_run: bool) -> Router:
        venues = tmp_path / "venues.toml"
        environ = write_venues(venues, simulator, dry_run=dry_run)
        log = tmp_path / "router.log"
        journal = f"sqlite+aiosqlite:///{tmp_path / 'j.db'}"
        with log.open("w", encoding="utf-8") as errors:
            process = subprocess.Popen(
                [*ROUTER, "serve", "--venues", str(venues), "--port", "0", "--db", journal],
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                env={**os.environ, **environ, "ROUTER_API_TOKENS": TOKENS},
            )
        processes.append(process)
        assert process.stdout is not None
        line = read_line(process, process.stdout, log)
        assert line.startswith("router API on http://"), line
        assert line.rstrip().endswith(f"(venues.toml), journal {journal}")
        return Router(line.split()[3])

    try:
        yield start
    finally:
        for process in processes:
            stop(process)
        for process in processes:
            assert process.returncode == 0


def test_serve_venues_closes_to_flat_on_the_simulator(
    serve_venues: Any, simulator: Simulator
) -> None:
    router: Router = serve_venues(dry_run=False)
    listed = router.call("GET", "/v1/venues")["venues"]
    assert [v["name"] for v in listed] == [v["name"] for v in simulator.venues]
    assert all(v["circuit"] == "closed" and "BTC/USDT" in v["markets"] for v in listed)
    accepted = router.call(
        "POST", "/v1/closes", TRADE, close_body(quantity="0.5", idempotency_key="venues-1")
    )
    body = router.finished(accepted["close_id"])
    assert body["outcome"] == "FLAT", body
    assert Decimal(body["filled"]) == Decimal("0.5")
    assert body["fills"]


def test_dry_run_venues_send_no_order(serve_venues: Any, simulator: Simulator) -> None:
    router: Router = serve_venues(dry_run=True)
    listed = router.call("GET", "/v1/venues")["venues"]
    assert {v["name"] for v in listed} == {v["name"] for v in simulator.venues}
    accepted = router.call(
        "POST",
        "/v1/closes",
        TRADE,
        close_body(quantity="0.5", idempotency_key="venues-dry-1", allow_hedge=False),
    )
    body = router.finished(accepted["close_id"])
    assert body["outcome"] != "FLAT"
    assert Decimal(body["filled"]) == 0
    assert not body["fills"]
    assert body["attempts"]
    assert {a["error_class"] for a in body["attempts"]} == {"DryRun"}
    assert {Decimal(a["filled_qty"] or 0) for a in body["attempts"]} == {Decimal(0)}


def _invoke(args: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ROUTER_API_TOKENS", TOKENS)
    return CliRunner().invoke(app, ["serve", *args])


def test_serve_needs_exactly_one_venue_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venues = tmp_path / "venues.toml"
    venues.write_text("", encoding="utf-8")
    both = _invoke(["--scenario", "calm", "--venues", str(venues)], monkeypatch)
    neither = _invoke([], monkeypatch)
    for result, given in [(both, "both"), (neither, "neither")]:
        assert result.exit_code == 2
        assert "exactly one of --scenario NAME or --venues FILE" in result.output
        assert f"({given} given)" in result.output


def test_unset_key_variable_is_named_and_no_key_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sEcReTvAlUe0123456789abcdefXYZ"
    venues = tmp_path / "venues.toml"
    venues.write_text(
        "[[venues]]\n"
        'name = "alpha"\n'
        'exchange = "binance"\n'
        'api_key_env = "ROUTER_TEST_UNSET_API_KEY"\n'
        'secret_env = "ROUTER_TEST_SET_SECRET"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("ROUTER_TEST_UNSET_API_KEY", raising=False)
    monkeypatch.setenv("ROUTER_TEST_SET_SECRET", secret)
    result = _invoke(["--venues", str(venues), "--port", "0"], monkeypatch)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "ROUTER_TEST_UNSET_API_KEY" in lines[0]
    assert "ROUTER_TEST_SET_SECRET" not in lines[0]
    assert secret not in result.output


@pytest.mark.parametrize(
    ("connect", "named"),
    [
        ('address = "localhost:8443"\nca_file = "ca.pem"', "venues.0.connect.address"),
        ('address = "127.0.0.1"\nca_file = "ca.pem"', "venues.0.connect.address"),
        ('address = "127.0.0.1:70000"\nca_file = "ca.pem"', "venues.0.connect.address"),
        ('address = "127.0.0.1:8443"\nca_file = "missing.pem"', "venues.0.connect.ca_file"),
        ('address = "127.0.0.1:8443"\nca_file = "ca.pem"\nhost = "x"', "venues.0.connect.host"),
    ],
)
def test_bad_connect_is_refused_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connect: str, named: str
) -> None:
    (tmp_path / "ca.pem").write_text("not used\n", encoding="utf-8")
    venues = tmp_path / "venues.toml"
    venues.write_text(
        "[[venues]]\n"
        'name = "alpha"\n'
        'exchange = "binance"\n'
        'api_key_env = "ROUTER_TEST_ALPHA_API_KEY"\n'
        'secret_env = "ROUTER_TEST_ALPHA_SECRET"\n'
        f"[venues.connect]\n{connect}\n",
        encoding="utf-8",
    )
    result = _invoke(["--venues", str(venues)], monkeypatch)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: venues.toml: ")
    assert named in lines[0]


def test_serve_refuses_a_wrong_configuration_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROUTER__SERVICE__PORT", "70000")
    result = _invoke(["--scenario", "calm"], monkeypatch)
    assert result.exit_code == 2
    assert "service.port (from ROUTER__SERVICE__PORT)" in result.output
