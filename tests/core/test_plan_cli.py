"""``router plan``: the operator's view of a split, through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from router.core.plan import plan


def _request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "side": "sell",
        "quantity": "1.0",
        "reference_price": "100",
        "max_slippage": "0.05",
        "venues": [
            {
                "name": "a",
                "taker_fee": "0",
                "lot_step": "0.3",
                "min_qty": "0.3",
                "min_notional": "0",
                "tick": "0.01",
                "inventory": "10",
                "bids": [["100", "5"]],
                "asks": [["101", "5"]],
            },
            {
                "name": "b",
                "taker_fee": 0,
                "lot_step": 0.5,
                "min_qty": "0.5",
                "min_notional": "0",
                "tick": "0.01",
                "inventory": "10",
                "bids": [[99, 5]],
                "asks": [["101", "5"]],
            },
        ],
    }
    body.update(overrides)
    return body


def _run(tmp_path: Path, payload: Any, *args: str) -> subprocess.CompletedProcess[str]:
    request = tmp_path / "request.json"
    request.write_text(payload if isinstance(payload, str) else json.dumps(payload), "utf-8")
    return subprocess.run(
        [sys.executable, "-m", "router.cli", "plan", "--input", str(request), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_answer(tmp_path: Path) -> None:
    result = _run(tmp_path, _request(), "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["children"] == [
        {"venue": "b", "quantity": "1", "limit_price": "95", "expected_average_price": "99"}
    ]
    assert answer["net_proceeds"] == "99"
    assert answer["average_price"] == "99"
    assert answer["residual"] == "0"
    assert answer["oracle_net_proceeds"] == "100"


def test_table_answer(tmp_path: Path) -> None:
    result = _run(tmp_path, _request())
    assert result.returncode == 0, result.stderr
    assert "residual" in result.stdout
    assert "99" in result.stdout


def test_unbounded_buy_with_json_numbers() -> None:
    answer = plan(_request(side="buy", quantity=2, max_slippage=1))
    assert answer["limit_price"] is None
    assert answer["filled"] == "2"
    assert answer["net_proceeds"] == "-202"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{not json", "Expecting property name"),
        ('{"side": "sell", "quantity": NaN}', "NaN is not a number"),
        (_request(quantity="-1"), "quantity"),
        (_request(side="short"), "side"),
        (_request(max_slippage="0"), "max_slippage"),
        (_request(venues=[]), "venues"),
        (
            _request(venues=[{"name": "a", "inventory": "1", "bids": [["1", "2", "3"]]}]),
            "price, quantity",
        ),
        (
            _request(venues=[{"name": "a", "inventory": "1", "bids": [["1", "2"], ["2", "1"]]}]),
            "out of order",
        ),
        (
            _request(
                venues=[{"name": "a", "inventory": "1", "bids": [["2", "1"]], "asks": [["1", "1"]]}]
            ),
            "crossed",
        ),
        (_request(venues=[{"name": "a", "inventory": "1", "colour": "red"}]), "colour"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path: Path, payload: Any, message: str) -> None:
    result = _run(tmp_path, payload)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "plan", "--input", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "not found" in result.stderr
