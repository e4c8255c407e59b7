"""``router serve --venues FILE``: real ccxt exchanges from a venues file, here routed by
each venue's ``connect`` table to ``router sim serve`` on loopback (no internet)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pytest
from typer.testing import CliRunner

from router.cli import app
from tests.service.conftest import READ, TOKENS, TRADE, close_body

STARTUP_S = 60.0
ROUTER = (sys.executable, "-m", "router.cli")


@dataclass
class Simulator:
    ca_cert: Path
    venues: list[dict[str, Any]]


def _env_prefix(name: str) -> str:
    return f"ROUTER_TEST_{name.upper()}"


def _read_line(process: subprocess.Popen[str], stream: IO[str], log: Path) -> str:
    """The process's first line on ``stream``, failing (with its log) if none comes."""
    ready, _, _ = select.select([stream], [], [], STARTUP_S)
    line = stream.readline() if ready else ""
    assert line, f"exit {process.poll()}: {log.read_text(encoding='utf-8')[-3000:]}"
    return line


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    log = tmp_path / "sim.log"
    with log.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            [*ROUTER, "sim", "serve", "--scenario", "calm", "--tls-dir", str(tmp_path / "tls")],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        assert process.stdout is not None
        announced = json.loads(_read_line(process, process.stdout, log))
        yield Simulator(Path(announced["ca_cert"]), announced["venues"])
    finally:
        _stop(process)


def write_venues(path: Path, simulator: Simulator, *, dry_run: bool) -> dict[str, str]:
    """A venues file routing each simulated venue through ``connect``; the environment
    variables holding the keys it names."""
    ca_file = simulator.ca_cert.relative_to(path.parent)
    lines = []
    environ = {}
    for venue in simulator.venues:
        prefix = _env_prefix(venue["name"])
        environ[f"{prefix}_API_KEY"] = venue["api_key"]
        environ[f"{prefix}_SECRET"] = venue["secret"]
        lines += [
            "[[venues]]",
            f'name = "{venue["name"]}"',
            'exchange = "binance"',
            f'api_key_env = "{prefix}_API_KEY"',
            f'secret_env = "{prefix}_SECRET"',
            f"dry_run = {str(dry_run).lower()}",
            "",
            "[venues.connect]",
            f'address = "127.0.0.1:{venue["port"]}"',
            f'ca_file = "{ca_file}"',
            "",
            "[venues.options]",
            "fetchCurrencies = false",
            "fetchMargins = false",
            'fetchMarkets = { types = ["spot", "linear"] }',
            "",
        ]
    path.write_text('quote = "USDT"\n\n' + "\n".join(lines), encoding="utf-8")
    return environ


@dataclass
class Router:
    base: str

    def call(self, method: str, path: str, token: str = READ, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def finished(self, close_id: str, timeout_s: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            body: dict[str, Any] = self.call("GET", f"/v1/closes/{close_id}")
            if body["outcome"] is not None and not body["running"]:
                return body
            assert time.monotonic() < deadline, f"close {close_id} did not finish: {body}"
            time.sleep(0.2)


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
        line = _read_line(process, process.stdout, log)
        assert line.startswith("router API on http://"), line
        assert line.rstrip().endswith("(venues.toml)")
        return Router(line.split()[3])

    try:
        yield start
    finally:
        for process in processes:
            _stop(process)
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
