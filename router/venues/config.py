"""Real-exchange venues: which ccxt exchanges to trade on, and where their keys live.

The configuration names environment variables, never keys: a value that looks like a
key (16 or more letters, digits and ``-_+/=`` that do not read as an upper-case
variable name with underscores) is refused wherever it appears. The
keys are read from the environment only when the adapters are built, and never appear
in an error or a ``repr``.

``sandbox = true`` points the ccxt client at the exchange's testnet
(``set_sandbox_mode(True)``). ``dry_run = true`` reads from the venue as usual but never
sends an order: :meth:`DryRunAdapter.place_order` answers ``NOT_PLACED`` with the error
class ``DryRun``, and a cancel finds nothing to cancel.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import ccxt
import ccxt.async_support as ccxt_async
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from router.venues.adapter import VenueAdapter
from router.venues.model import Outcome, PlaceResult
from router.venues.reports import VenueOrder
from router.venues.transport import routed_session

ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,127}$"
KEY_LIKE = re.compile(r"[A-Za-z0-9+/=_\-]{16,}")
"""What an API key or secret looks like (refused anywhere in the file) ..."""
VARIABLE_LIKE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+")
"""... unless it reads as an environment variable's name (upper case, with underscores)."""
DRY_RUN_ERROR = "DryRun"


class VenueConfigError(ValueError):
    """A venue configuration that cannot be used; the message names the key or variable."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


EnvName = Annotated[str, Field(pattern=ENV_NAME)]
BASE_DIR = "base_dir"
"""Validation context: the folder relative ``ca_file`` paths are read from."""


def split_address(value: str) -> tuple[str, int]:
    """``IP:PORT`` (``[IPv6]:PORT``) as the IP literal and the port; ``ValueError`` if not."""
    host, sep, port_text = value.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    try:
        address = ipaddress.ip_address(host) if sep else None
    except ValueError:
        address = None
    if address is None or (address.version == 6) != bracketed:
        raise ValueError("must be IP:PORT with an IP literal (IPv6 in brackets: [::1]:PORT)")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError("the port must be a number from 1 to 65535")
    return str(address), int(port_text)


class ConnectSpec(_Strict):
    """Send the venue's API host names to ``address`` and trust only ``ca_file``."""

    address: str
    """``IP:PORT``: an IP literal (no host name) and a port."""
    ca_file: Path
    """PEM CA certificate(s) the address's certificate must chain to; a relative path is
    read from the venues file's folder."""

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        split_address(value)
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: Path, info: ValidationInfo) -> Path:
        base = (info.context or {}).get(BASE_DIR)
        path = value if value.is_absolute() or base is None else Path(base) / value
        if not path.is_file():
            raise ValueError("no such file (a relative path is read from the venues file's folder)")
        return path

    @property
    def host(self) -> str:
        return split_address(self.address)[0]

    @property
    def port(self) -> int:
        return split_address(self.address)[1]


class VenueSpec(_Strict):
    """One venue: a ccxt exchange, the names of its key variables and its switches."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
    exchange: str
    api_key_env: EnvName
    secret_env: EnvName
    password_env: EnvName | None = None
    sandbox: bool = False
    dry_run: bool = False
    timeout_s: Annotated[Decimal, Field(gt=0, le=120, allow_inf_nan=False)] = Decimal(10)
    connect: ConnectSpec | None = None
    options: dict[str, JsonValue] = Field(default_factory=dict)
    """Passed to the ccxt client's ``options`` (the adapter still turns retries off)."""

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        if value not in ccxt.exchanges:
            raise ValueError(f"{value!r} is not a ccxt exchange id (such as binance, okx, bybit)")
        return value


class VenuesConfig(_Strict):
    """The venues the router trades on."""

    quote: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,12}$")] = "USDT"
    """The quote asset closes are sold into (and the guard values positions in)."""
    venues: Annotated[list[VenueSpec], Field(min_length=1)]

    @field_validator("venues")
    @classmethod
    def _unique_names(cls, value: list[VenueSpec]) -> list[VenueSpec]:
        names = [v.name for v in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate venue names: {', '.join(duplicates)}")
        return value


def _key_like(raw: Any, where: str) -> str | None:
    """The location of the first string in ``raw`` that looks like a key, if any."""
    if isinstance(raw, str):
        looks = KEY_LIKE.fullmatch(raw) and not VARIABLE_LIKE.fullmatch(raw)
        return where if looks else None
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            found = _key_like(value, f"{where}.{key}" if where else str(key))
            if found:
                return found
    if isinstance(raw, list):
        for index, item in enumerate(raw):
            found = _key_like(item, f"{where}.{index}")
            if found:
                return found
    return None


def parse_venues(
    raw: Mapping[str, Any], *, source: str = "<venues>", base_dir: Path | None = None
) -> VenuesConfig:
    """Validate a parsed configuration; errors name the key, never echo a value.

    Relative ``ca_file`` paths are read from ``base_dir`` (else the working directory).
    """
    found = _key_like(raw, "")
    if found:
        raise VenueConfigError(
            f"{source}: {found}: looks like a key; put keys in environment variables "
            "and name the variables (api_key_env, secret_env, password_env)"
        )
    try:
        return VenuesConfig.model_validate(raw, context={BASE_DIR: base_dir})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise VenueConfigError(f"{source}: {problems}") from None


def load_venues(path: Path) -> VenuesConfig:
    """Read a venues file (see ``config/venues.example.toml``)."""
    if not path.is_file():
        raise VenueConfigError(f"venue configuration not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise VenueConfigError(f"{path.name}: invalid TOML: {exc}") from None
    return parse_venues(raw, source=path.name, base_dir=path.parent)


class DryRunAdapter(VenueAdapter):
    """A venue that is read as usual but never sent an order (nor a cancel)."""

    dry_run = True

    async def place_order(
        self,
        symbol: str,
        side: Literal["buy", "sell"],
        quantity: Decimal,
        *,
        client_order_id: str,
        limit_price: Decimal | None,
        reduce_only: bool = False,
    ) -> PlaceResult:
        """Answer NOT_PLACED (error class ``DryRun``) without sending anything."""
        price = "market" if limit_price is None else f"@ {limit_price}"
        return PlaceResult(
            outcome=Outcome.NOT_PLACED,
            client_order_id=client_order_id,
            error_class=DRY_RUN_ERROR,
            error_message=f"{self.name}: dry run: {side} {quantity} {symbol} {price} not sent",
        )

    async def cancel(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """Nothing was ever sent, so there is nothing to cancel."""
        return None


def _secret(environ: Mapping[str, str], variable: str, venue: str) -> str:
    value = environ.get(variable)
    if not value:
        raise VenueConfigError(f"venue {venue}: environment variable {variable} is not set")
    return value


def api_hosts(exchange: Any) -> tuple[str, ...]:
    """The host names of a ccxt client's API URLs (``urls["api"]``, testnet ones once
    sandbox mode is on)."""
    hosts: set[str] = set()
    pending: list[Any] = [exchange.urls.get("api")]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            host = urlsplit(exchange.implode_hostname(value)).hostname
            if host:
                hosts.add(host)
        elif isinstance(value, Mapping):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return tuple(sorted(hosts))


def _route(exchange: Any, venue: str, connect: ConnectSpec) -> None:
    """Give ``exchange`` a session sending its API hosts to ``connect``; ccxt closes it
    with the client."""
    exchange.session = routed_session(
        api_hosts(exchange),
        connect.host,
        connect.port,
        connect.ca_file,
        label=f"venue {venue}'s connect address",
    )
    exchange.own_session = True


def build_adapters(config: VenuesConfig, environ: Mapping[str, str]) -> dict[str, VenueAdapter]:
    """One adapter per venue over an unmodified ``ccxt.async_support`` client, keys read
    from ``environ``; testnet when ``sandbox``, a :class:`DryRunAdapter` when ``dry_run``,
    routed to its ``connect`` address when it has one (that needs a running event loop).

    Markets are not loaded here: call ``load()`` on each adapter (that talks to the venue)
    and ``close()`` on each when done.
    """
    missing = [
        (spec.name, variable)
        for spec in config.venues
        for variable in (spec.api_key_env, spec.secret_env, spec.password_env)
        if variable is not None and not environ.get(variable)
    ]
    if missing:
        named = ", ".join(f"{variable} (venue {venue})" for venue, variable in missing)
        raise VenueConfigError(f"environment variables not set: {named}")
    # Every client is built and checked before any session opens: a refused venue
    # leaves nothing open.
    clients: list[tuple[VenueSpec, Any]] = []
    for spec in config.venues:
        credentials = {
            "apiKey": _secret(environ, spec.api_key_env, spec.name),
            "secret": _secret(environ, spec.secret_env, spec.name),
        }
        if spec.password_env is not None:
            credentials["password"] = _secret(environ, spec.password_env, spec.name)
        settings: dict[str, Any] = {**credentials, "options": dict(spec.options)}
        exchange = getattr(ccxt_async, spec.exchange)(settings)
        if spec.sandbox:
            try:
                exchange.set_sandbox_mode(True)
            except ccxt.NotSupported:
                raise VenueConfigError(
                    f"venue {spec.name}: {spec.exchange} has no sandbox (testnet)"
                ) from None
        if spec.connect is not None and not api_hosts(exchange):
            raise VenueConfigError(f"venue {spec.name}: {spec.exchange} names no API host to route")
        clients.append((spec, exchange))
    adapters: dict[str, VenueAdapter] = {}
    for spec, exchange in clients:
        if spec.connect is not None:
            _route(exchange, spec.name, spec.connect)
        kind = DryRunAdapter if spec.dry_run else VenueAdapter
        adapters[spec.name] = kind(spec.name, exchange, timeout_s=float(spec.timeout_s))
    return adapters
