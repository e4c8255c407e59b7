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

import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import ccxt
import ccxt.async_support as ccxt_async
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from router.journal.recovery import VenueOrder
from router.venues.adapter import VenueAdapter
from router.venues.model import Outcome, PlaceResult

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

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        if value not in ccxt.exchanges:
            raise ValueError(f"{value!r} is not a ccxt exchange id (such as binance, okx, bybit)")
        return value


class VenuesConfig(_Strict):
    """The venues the router trades on."""

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


def parse_venues(raw: Mapping[str, Any], *, source: str = "<venues>") -> VenuesConfig:
    """Validate a parsed configuration; errors name the key, never echo a value."""
    found = _key_like(raw, "")
    if found:
        raise VenueConfigError(
            f"{source}: {found}: looks like a key; put keys in environment variables "
            "and name the variables (api_key_env, secret_env, password_env)"
        )
    try:
        return VenuesConfig.model_validate(raw)
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
    return parse_venues(raw, source=path.name)


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


def build_adapters(config: VenuesConfig, environ: Mapping[str, str]) -> dict[str, VenueAdapter]:
    """One adapter per venue over an unmodified ``ccxt.async_support`` client, keys read
    from ``environ``; testnet when ``sandbox``, a :class:`DryRunAdapter` when ``dry_run``.

    Markets are not loaded here: call ``load()`` on each adapter (that talks to the venue).
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
    adapters: dict[str, VenueAdapter] = {}
    for spec in config.venues:
        credentials = {
            "apiKey": _secret(environ, spec.api_key_env, spec.name),
            "secret": _secret(environ, spec.secret_env, spec.name),
        }
        if spec.password_env is not None:
            credentials["password"] = _secret(environ, spec.password_env, spec.name)
        exchange = getattr(ccxt_async, spec.exchange)(credentials)
        if spec.sandbox:
            try:
                exchange.set_sandbox_mode(True)
            except ccxt.NotSupported:
                raise VenueConfigError(
                    f"venue {spec.name}: {spec.exchange} has no sandbox (testnet)"
                ) from None
        kind = DryRunAdapter if spec.dry_run else VenueAdapter
        adapters[spec.name] = kind(spec.name, exchange, timeout_s=float(spec.timeout_s))
    return adapters
