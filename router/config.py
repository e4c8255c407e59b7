"""Reading configuration files: the I/O edge in front of the pure core's policies."""

from __future__ import annotations

import tomllib
from pathlib import Path

from router.core.policy import Policy, PolicyError, parse_policy


def config_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "config"


def default_policy_path() -> Path:
    return config_dir() / "policy.toml"


def load_policy(path: Path | None = None) -> Policy:
    """The policy file (``config/policy.toml`` by default); seed defaults if it is absent."""
    target = path or default_policy_path()
    if not target.exists():
        if path is not None:
            raise PolicyError(f"policy file not found: {path}")
        return Policy()
    try:
        raw = tomllib.loads(target.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{target.name}: invalid TOML: {exc}") from exc
    return parse_policy(raw, source=target.name)
