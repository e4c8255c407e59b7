"""The operator commands against a real ``router serve --scenario calm`` on a loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

READ = "read-token-0123456789abcdef"
TRADE = "trade-token-0123456789abcdef"
WRONG = "wrong-token-0123456789abcdef"
SERVE_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 90.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROUTER_API", "ROUTER_JOURNAL"))
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``router serve --scenario calm`` in a subprocess; yields its base URL."""
    workdir = tmp_path_factory.mktemp("serve")
    port = _free_port()
    env = _environment(ROUTER_API_TOKENS=f"{READ}:read,{TRADE}:trade")
    log = (workdir / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "router.cli",
            "serve",
            "--scenario",
            "calm",
            "--port",
            str(port),
            "--db",
            f"sqlite+aiosqlite:///{workdir / 'journal.db'}",
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert line.startswith("router API on"), (line, (workdir / "serve.log").read_text())
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "router serve did not listen"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def router(*args: str, url: str, token: str | None = TRADE) -> subprocess.CompletedProcess[str]:
    """Run ``router ARGS`` as an operator would, the API's address and token from the env."""
    env = _environment(ROUTER_API_URL=url, COLUMNS="200")
    if token is not None:
        env["ROUTER_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "router.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def closed(server: str) -> dict[str, Any]:
    """A close started and followed to its outcome with ``router close --wait --json``."""
    return as_json(
        router(
            "close",
            "--symbol",
            "BTC",
            "--side",
            "sell",
            "--quantity",
            "2",
            "--urgency",
            "0.9",
            "--key",
            "operator-test-1",
            "--wait",
            "--json",
            url=server,
        )
    )


def test_close_wait_reaches_flat_and_adds_up(closed: dict[str, Any]) -> None:
    assert closed["outcome"] == "FLAT"
    assert closed["running"] is False
    assert closed["idempotency_key"] == "operator-test-1"
    requested = Decimal(closed["requested"])
    filled, hedged = Decimal(closed["filled"]), Decimal(closed["hedged"])
    assert requested == 2
    assert filled + hedged + Decimal(closed["residual"]) == requested
    assert filled == requested
    close_fills = {a["client_order_id"] for a in closed["attempts"] if a["purpose"] == "close"}
    spot = [f for f in closed["fills"] if f["client_order_id"] in close_fills]
    assert sum(Decimal(f["quantity"]) for f in spot) == filled


SAME_CLOSE = ("close", "--symbol", "BTC", "--side", "sell", "--quantity", "2", "--urgency", "0.9")


def test_close_with_the_same_key_answers_the_same_close(
    server: str, closed: dict[str, Any]
) -> None:
    again = router(*SAME_CLOSE, "--key", "operator-test-1", "--json", url=server)
    assert as_json(again)["close_id"] == closed["close_id"]


def test_the_same_close_again_says_it_already_exists(server: str, closed: dict[str, Any]) -> None:
    again = router(*SAME_CLOSE, "--quantity", "2.0", "--key", "operator-test-1", url=server)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines() == [
        f"close {closed['close_id']} already exists for key operator-test-1, state DONE"
    ]
    assert "started" not in again.stdout + again.stderr


def test_the_same_close_again_with_wait_says_it_already_exists(
    server: str, closed: dict[str, Any]
) -> None:
    again = router(*SAME_CLOSE, "--key", "operator-test-1", "--wait", url=server)
    assert again.returncode == 0, again.stderr
    first, *table = again.stdout.strip().splitlines()
    assert first == f"close {closed['close_id']} already exists for key operator-test-1, state DONE"
    assert "FLAT" in "\n".join(table)
    assert "started" not in again.stdout


@pytest.mark.parametrize(
    "different",
    [("--quantity", "1"), ("--side", "buy"), ("--urgency", "0.5"), ("--no-hedge",)],
    ids=repr,
)
def test_a_different_close_under_a_used_key_exits_2_with_one_line(
    server: str, closed: dict[str, Any], different: tuple[str, ...]
) -> None:
    result = router(*SAME_CLOSE, *different, "--key", "operator-test-1", url=server)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: 409 key operator-test-1 already names a different request "
        f"(close {closed['close_id']}); use a new --key for a new close"
    ]


def test_status_shows_the_close(server: str, closed: dict[str, Any]) -> None:
    status = as_json(router("status", closed["close_id"], "--json", url=server, token=READ))
    assert status["close_id"] == closed["close_id"]
    assert status["outcome"] == "FLAT"
    assert status["filled"] == closed["filled"]
    table = router("status", closed["close_id"], url=server, token=READ)
    assert table.returncode == 0, table.stderr
    assert closed["close_id"] in table.stdout
    assert "FLAT" in table.stdout
    assert "fills per venue" in table.stdout


def test_status_of_an_unknown_close_is_one_line(server: str) -> None:
    result = router("status", "cl_nope", url=server, token=READ)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: 404 unknown close"]


def test_liquidity_has_a_consolidated_score(server: str) -> None:
    reading = as_json(
        router("liquidity", "BTC", "--side", "sell", "--danger", "0.2", "--json", url=server)
    )
    assert Decimal(reading["consolidated_score"]) >= 0
    assert {v["venue"] for v in reading["venues"]} == {"alpha", "bravo", "charlie"}
    assert "escape_window_s" in reading
    assert reading["escape_now"] is False
    assert isinstance(reading["votes"], list)
    table = router("liquidity", "BTC", url=server, token=READ)
    assert table.returncode == 0, table.stderr
    assert "consolidated score" in table.stdout


def test_hedge_list_is_a_list(server: str) -> None:
    assert isinstance(as_json(router("hedge", "list", "--json", url=server, token=READ)), list)
    assert isinstance(as_json(router("hedge", "list", "--open", "--json", url=server)), list)


@pytest.mark.parametrize("flags", [(), ("--with-spot",)])
def test_unwinding_an_unknown_hedge_is_one_line(server: str, flags: tuple[str, ...]) -> None:
    result = router("hedge", "unwind", "999999", *flags, "--json", url=server)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: 404 unknown hedge"


def test_venues_lists_the_three_calm_venues(server: str) -> None:
    venues = as_json(router("venues", "--json", url=server, token=READ))
    assert [v["name"] for v in venues] == ["alpha", "bravo", "charlie"]
    assert all(v["circuit"] == "closed" for v in venues)


def test_a_wrong_token_exits_2_with_one_line(server: str) -> None:
    result = router("venues", "--json", url=server, token=WRONG)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "401" in lines[0]
    assert WRONG not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_token_passed_as_an_option_is_never_echoed(server: str) -> None:
    result = router("status", "cl_x", "--token", WRONG, url=server, token=None)
    assert result.returncode == 2
    assert WRONG not in result.stderr + result.stdout


def test_a_read_token_may_not_close(server: str) -> None:
    result = router(
        "close", "--symbol", "BTC", "--side", "sell", "--quantity", "1", url=server, token=READ
    )
    assert result.returncode == 2
    assert "403" in result.stderr
    assert READ not in result.stderr + result.stdout


def test_an_invalid_close_names_the_field(server: str) -> None:
    result = router("close", "--symbol", "BTC", "--side", "sell", "--quantity", "-1", url=server)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "422" in result.stderr
    assert "quantity" in result.stderr


def test_an_unreachable_url_exits_2() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    result = router("venues", "--json", url=url)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: cannot reach the router at {url}")
    assert TRADE not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_token_exits_2() -> None:
    result = router("venues", url="http://127.0.0.1:9", token=None)
    assert result.returncode == 2
    assert "ROUTER_API_TOKEN" in result.stderr
