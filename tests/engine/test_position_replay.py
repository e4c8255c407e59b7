"""The issue's reproductions through ``router simulate``: a venue that cannot answer at
the start still has its holdings counted and sold."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.sim.paths import repo_root

D = Decimal
CALM = repo_root() / "config" / "scenarios" / "calm.toml"


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        raise TypeError("nested tables are written by _write")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def _write(raw: dict[str, Any], path: Path) -> None:
    """A scenario dict as TOML (the shapes scenario files use: tables, arrays of tables)."""
    lines: list[str] = []

    def table(prefix: str, body: dict[str, Any]) -> None:
        for key, value in body.items():
            if not isinstance(value, dict | list):
                lines.append(f"{key} = {_toml(value)}")
        for key, value in body.items():
            if isinstance(value, dict):
                lines.append(f"[{prefix}{key}]")
                table(f"{prefix}{key}.", value)
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:
                    lines.append(f"[[{prefix}{key}]]")
                    table(f"{prefix}{key}.", item)

    table("", raw)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _calm_with(fault: dict[str, Any], tmp_path: Path) -> Path:
    raw = tomllib.loads(CALM.read_text(encoding="utf-8"))
    raw["speed"] = "20"
    raw["faults"] = [fault]
    path = tmp_path / "calm-fault.toml"
    _write(raw, path)
    return path


def _simulate(scenario: Path, tmp_path: Path) -> dict[str, Any]:
    db = f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "router.cli", "simulate", "--scenario", str(scenario)),
            *("--seed", "1", "--json", "--db", db),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def _all_sold(answer: dict[str, Any]) -> None:
    held = {"alpha": D(8), "bravo": D(5), "charlie": D(3)}
    assert answer["outcome"] == "FLAT", answer["reason"]
    assert D(answer["requested"]) == sum(held.values())
    assert D(answer["filled"]) == sum(held.values())
    venues = answer["position"]["venues"]
    for name, amount in held.items():
        assert D(venues[name]["held"]) == amount
        assert D(venues[name]["sold"]) == amount
        assert D(venues[name]["residual"]) == 0
    assert answer["position"]["unknown"] == []


def test_a_balance_read_rate_limited_at_the_start_is_counted_and_sold(tmp_path: Path) -> None:
    fault = {"kind": "rate_limit", "venue": "alpha", "endpoint": "GET /api/v3/account"}
    _all_sold(_simulate(_calm_with({**fault, "end_s": "3"}, tmp_path), tmp_path))


def test_a_venue_whose_markets_failed_to_load_once_joins_the_close(tmp_path: Path) -> None:
    fault = {"kind": "rate_limit", "venue": "bravo", "endpoint": "GET /api/v3/exchangeInfo"}
    _all_sold(_simulate(_calm_with({**fault, "count": 1}, tmp_path), tmp_path))
