"""Reading configuration: the I/O edge in front of the pure core's policies.

The router's configuration is ``config/default.toml`` (the seed's defaults, shipped with
the code), then the file given with ``--config`` or ``$ROUTER_CONFIG`` (only the keys it
changes; tables merge, lists replace), then environment variables
``ROUTER__<SECTION>__<KEY>`` (nested tables joined by ``__``; the value is read as a
TOML value, else as a string). A wrong key or value fails at start, naming the key and,
for an environment override, the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from router.core.guard import GuardedPosition
from router.core.policy import Policy, PolicyError

CONFIG_ENV = "ROUTER_CONFIG"
OVERRIDE_PREFIX = "ROUTER__"
OVERRIDE_SEPARATOR = "__"


def config_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "config"


def default_config_path() -> Path:
    return config_dir() / "default.toml"


class ConfigError(PolicyError):
    """The configuration cannot be used: the message names the file or variable and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def is_listen_host(host: str) -> bool:
    """An IP address, or a host name whose last label is not all digits (so ``999.1.1.1``
    is refused here rather than looked up in the DNS)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.removesuffix(".").split(".")
        return (
            len(host) <= 253
            and all(_HOST_LABEL.fullmatch(label) for label in labels)
            and not labels[-1].isdigit()
        )
    return True


class ServiceConfig(_Strict):
    """Where ``router serve`` listens and how much it reads."""

    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    max_body_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 64 * 1024
    keeper_every_s: Annotated[float, Field(ge=0.1, le=3600)] = 5.0
    """How often the keeper looks for closes to take over and orders left in doubt."""
    lease_s: Annotated[float, Field(ge=3, le=3600)] = 30.0
    """How long a close stays this router's without renewal (renewed every third)."""
    ready_within_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """``/readyz`` is ready while a loaded venue answered within this (see readiness)."""
    drain_s: Annotated[float, Field(ge=0, le=3600)] = 10.0
    """On shutdown, how long running closes get to finish their wave before handover."""
    header_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    """A request's head (request line and headers) must arrive whole within this."""
    body_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    """A request's body must arrive whole within this once its head has (else 408)."""
    keepalive_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """An idle keep-alive connection is closed after this."""
    max_connections: Annotated[int, Field(ge=1, le=100_000)] = 256
    """Connections open at once; beyond it a new one is answered 503 and closed."""
    unwind_min_interval_s: Annotated[float, Field(ge=0, le=3600)] = 5.0
    """The shortest pause between two unwinds of one hedge (earlier asks answer 429)."""

    @field_validator("host")
    @classmethod
    def _listenable(cls, host: str) -> str:
        if not is_listen_host(host):
            raise ValueError("expected an IP address or a host name")
        return host


class RouterConfig(_Strict):
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    policy: Policy = Field(default_factory=Policy)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: invalid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name}: not UTF-8 text") from exc


def _merge(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` over ``base``: tables merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _override_value(text: str) -> Any:
    """An environment value as TOML (numbers exact, lists, booleans), else the string."""
    try:
        return tomllib.loads(f"v = {text}", parse_float=Decimal)["v"]
    except tomllib.TOMLDecodeError:
        return text


def _overrides(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``ROUTER__…`` variables as nested tables, and which variable set each key."""
    tree: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for variable in sorted(environ):
        if not variable.startswith(OVERRIDE_PREFIX):
            continue
        parts = [p.lower() for p in variable[len(OVERRIDE_PREFIX) :].split(OVERRIDE_SEPARATOR)]
        if not all(parts):
            raise ConfigError(f"{variable}: expected ROUTER__<SECTION>__<KEY>")
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{variable}: {'.'.join(parts)} conflicts with another variable")
            node = child
        node[parts[-1]] = _override_value(environ[variable])
        origin[".".join(parts)] = variable
    return tree, origin


def _describe(exc: ValidationError, source: str, origin: Mapping[str, str]) -> str:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        setter = next(
            (var for path, var in origin.items() if key == path or key.startswith(path + ".")),
            None,
        )
        where = f"{key} (from {setter})" if setter else key
        problems.append(f"{where}: {err['msg']}")
    return f"{source}: {'; '.join(problems)}"


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> RouterConfig:
    """The router's configuration: defaults, then ``path`` (or ``$ROUTER_CONFIG``), then
    ``ROUTER__…`` variables from ``environ`` (``os.environ`` by default)."""
    env = os.environ if environ is None else environ
    raw = _read_toml(default_config_path()) if default_config_path().is_file() else {}
    sources = [default_config_path().name]
    chosen = path if path is not None else (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    if chosen is not None:
        if not chosen.is_file():
            raise ConfigError(f"configuration file not found: {chosen}")
        raw = _merge(raw, _read_toml(chosen))
        sources.append(chosen.name)
    overrides, origin = _overrides(env)
    if overrides:
        raw = _merge(raw, overrides)
        sources.append("environment")
    try:
        return RouterConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, " + ".join(sources), origin)) from None


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help=f"Router configuration over config/default.toml (default: ${CONFIG_ENV}).",
        show_default=False,
    ),
]
"""The ``--config FILE`` option every command that runs the engine takes."""


def load_policy(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Policy:
    """The policy of :func:`load_config`."""
    return load_config(path, environ).policy


class GuardPositionConfig(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,12}$")]
    side: Literal["long", "short"]
    entry_price: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    quantity: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


class GuardConfig(_Strict):
    poll_s: Annotated[Decimal, Field(gt=0)] = Decimal(5)
    danger: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.5")
    allow_hedge: bool = True
    positions: Annotated[list[GuardPositionConfig], Field(min_length=1)]

    def guarded(self) -> list[GuardedPosition]:
        return [
            GuardedPosition(p.name, p.symbol, p.side, p.entry_price, p.quantity)
            for p in self.positions
        ]


def load_guard_config(path: Path) -> GuardConfig:
    """The guard's positions; a wrong key or value fails naming it."""
    if not path.is_file():
        raise PolicyError(f"guard configuration not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return GuardConfig.model_validate(raw)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path.name}: invalid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PolicyError(f"{path.name}: {problems}") from exc
