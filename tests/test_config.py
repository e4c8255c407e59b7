"""The router's configuration: shipped defaults, a file over them, environment overrides."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from router.config import ConfigError, RouterConfig, ServiceConfig, load_config
from router.core.policy import Policy

D = Decimal


def test_shipped_defaults_are_the_seed_and_loopback() -> None:
    config = load_config(environ={})
    assert config == RouterConfig()
    assert config.policy == Policy()
    assert config.service == ServiceConfig(host="127.0.0.1", port=8080, max_body_bytes=65536)


def test_file_changes_only_its_keys(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(
        "[service]\nport = 9191\n[policy.liquidity]\nclose_below = 0.25\n", encoding="utf-8"
    )
    config = load_config(mine, environ={})
    assert config.service.port == 9191
    assert config.service.host == "127.0.0.1"
    assert config.policy.liquidity.close_below == D("0.25")
    assert config.policy.liquidity.escape_now_below_s == D(60)
    assert config.policy.stop_tiers == Policy().stop_tiers


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text("[service]\nport = 7000\n", encoding="utf-8")
    assert load_config(environ={"ROUTER_CONFIG": str(mine)}).service.port == 7000


def test_environment_overrides_win_over_the_file(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text("[service]\nport = 7000\n", encoding="utf-8")
    environ = {
        "ROUTER__SERVICE__PORT": "9090",
        "ROUTER__POLICY__LIQUIDITY__CLOSE_BELOW": "0.1",
        "ROUTER__POLICY__LADDER": '["0.03", "0.05", "0.10", "unbounded"]',
        "ROUTER__SERVICE__HOST": "::1",
        "ROUTER_JOURNAL_URL": "sqlite+aiosqlite:///elsewhere.db",
    }
    config = load_config(mine, environ=environ)
    assert config.service.port == 9090
    assert config.service.host == "::1"
    assert config.policy.liquidity.close_below == D("0.1")
    assert str(config.policy.liquidity.close_below) == "0.1"
    assert config.policy.ladder == [D("0.03"), D("0.05"), D("0.10"), None]


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"ROUTER__POLICY__LIQUIDITY__CLOSE_BELLOW": "0.2"}, "(from ROUTER__POLICY__LIQUIDITY"),
        ({"ROUTER__SERVICE__PORT": "eighty"}, "service.port (from ROUTER__SERVICE__PORT)"),
        ({"ROUTER__SERVICE__PORT": "70000"}, "service.port"),
        ({"ROUTER__SERVICE__HOST": "999.1.1.1"}, "service.host (from ROUTER__SERVICE__HOST)"),
        ({"ROUTER__SERVICE__HEADER_TIMEOUT_S": "0"}, "service.header_timeout_s"),
        ({"ROUTER__SERVICE__BODY_TIMEOUT_S": "-1"}, "service.body_timeout_s"),
        ({"ROUTER__SERVICE__KEEPALIVE_TIMEOUT_S": "0"}, "service.keepalive_timeout_s"),
        ({"ROUTER__SERVICE__MAX_CONNECTIONS": "0"}, "service.max_connections"),
        ({"ROUTER__POLICY__LIQUIDITY__CLOSE_BELOW": "1.5"}, "policy.liquidity.close_below"),
        ({"ROUTER__NOPE__X": "1"}, "nope"),
        ({"ROUTER__SERVICE__": "1"}, "ROUTER__SERVICE__"),
    ],
)
def test_wrong_override_names_the_variable_and_key(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ=environ)
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[service]\nprot = 1\n", "service.prot"),
        ('[policy]\nladder = ["0.2", "0.1"]\n', "ladder: tolerances must strictly increase"),
        ("[policy.liquidity]\nclose_below = -1\n", "policy.liquidity.close_below"),
        ("[polcy]\n", "polcy"),
        ("[service\n", "invalid TOML"),
    ],
)
def test_wrong_file_names_the_file_and_key(tmp_path: Path, text: str, named: str) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(mine, environ={})
    assert named in str(caught.value)
    assert "mine.toml" in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml", environ={})
