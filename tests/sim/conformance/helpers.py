"""A minimal Binance REST client written from Binance's documentation, not the simulator.

Request signing follows binance-spot-api-docs ``rest-api.md``, section
"SIGNED (TRADE and USER_DATA) Endpoint security":

* the API key travels in the ``X-MBX-APIKEY`` header;
* ``signature`` is the hex HMAC-SHA256 of ``totalParams`` keyed with the secret,
  where ``totalParams`` is the query string concatenated with the request body
  (no ``&`` between them, see "Example 3: Mixed query string and request body");
* ``timestamp`` is the request time in milliseconds, ``recvWindow`` is optional.

"General Information on Endpoints": GET parameters go in the query string; POST,
PUT and DELETE parameters may go in the query string or in an
``application/x-www-form-urlencoded`` body. This client puts POST parameters in
the body and GET/DELETE parameters in the query string unless told otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

SPOT_BASE = "https://api.binance.com"
FUTURES_BASE = "https://fapi.binance.com"
FORM = "application/x-www-form-urlencoded"

Params = Mapping[str, str | int | Decimal]


def now_ms() -> int:
    """Client clock in epoch milliseconds, as a real client stamps ``timestamp``."""
    return time.time_ns() // 1_000_000


def hmac_sha256_hex(secret: str, payload: str) -> str:
    """``signature`` per rest-api.md: HMAC SHA256, key = secretKey, value = totalParams."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def encode(params: Params) -> str:
    return urlencode([(key, str(value)) for key, value in params.items()])


def base_for(path: str) -> str:
    return FUTURES_BASE if path.startswith("/fapi/") else SPOT_BASE


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, parsed JSON body and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def code(self) -> int | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @property
    def msg(self) -> str | None:
        return self.body.get("msg") if isinstance(self.body, dict) else None

    def json(self) -> dict[str, Any]:
        assert self.status == 200, f"expected HTTP 200, got {self.status}: {self.body!r}"
        assert isinstance(self.body, dict), self.body
        return self.body

    def rows(self) -> list[dict[str, Any]]:
        assert self.status == 200, f"expected HTTP 200, got {self.status}: {self.body!r}"
        assert isinstance(self.body, list), self.body
        return self.body


class BinanceRest:
    """Raw, signed and unsigned Binance REST calls over an aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, api_key: str, secret: str) -> None:
        self.session = session
        self.api_key = api_key
        self.secret = secret

    async def raw(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send exactly ``query`` and ``body`` (already encoded) and parse the answer."""
        url = base_for(path) + path + (f"?{query}" if query else "")
        sent_headers = dict(headers or {})
        if body:
            sent_headers["Content-Type"] = FORM
        async with self.session.request(
            method,
            URL(url, encoded=True),
            data=body.encode() if body else None,
            headers=sent_headers,
        ) as response:
            try:
                parsed: Any = await response.json(content_type=None)
            except ValueError:
                parsed = await response.text()
            return Reply(response.status, parsed, dict(response.headers))

    async def public(self, path: str, params: Params | None = None) -> Reply:
        return await self.raw("GET", path, query=encode(params or {}))

    async def signed(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        *,
        body_params: Params | None = None,
        recv_window: int | None = None,
        timestamp: int | None = None,
    ) -> Reply:
        """A SIGNED request.

        ``params`` go in the body for POST and in the query string otherwise;
        ``body_params`` (POST/DELETE only) are added to the body, so a request can
        split its parameters between query string and body. ``timestamp`` and
        ``recvWindow`` are appended to the part that carries the signature.
        """
        query_part: dict[str, str | int | Decimal] = {}
        body_part: dict[str, str | int | Decimal] = dict(body_params or {})
        if method == "POST":
            body_part.update(params or {})
        else:
            query_part.update(params or {})
        timing: dict[str, str | int | Decimal] = {}
        if recv_window is not None:
            timing["recvWindow"] = recv_window
        timing["timestamp"] = now_ms() if timestamp is None else timestamp
        (body_part if body_part else query_part).update(timing)
        query = encode(query_part)
        body = encode(body_part)
        signature = hmac_sha256_hex(self.secret, query + body)
        if body:
            body = f"{body}&signature={signature}"
        else:
            query = f"{query}&signature={signature}"
        return await self.raw(
            method, path, query=query, body=body, headers={"X-MBX-APIKEY": self.api_key}
        )

    # Convenience wrappers for the endpoints the suite uses most.

    async def new_order(self, path: str = "/api/v3/order", **params: str | Decimal) -> Reply:
        return await self.signed("POST", path, {"symbol": "BTCUSDT", **params})

    async def query_order(self, path: str = "/api/v3/order", **params: str | int) -> Reply:
        return await self.signed("GET", path, {"symbol": "BTCUSDT", **params})

    async def cancel_order(self, path: str = "/api/v3/order", **params: str | int) -> Reply:
        return await self.signed("DELETE", path, {"symbol": "BTCUSDT", **params})

    async def spot_balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """``GET /api/v3/account`` balances as ``asset -> (free, locked)``."""
        account = (await self.signed("GET", "/api/v3/account")).json()
        return {
            row["asset"]: (Decimal(row["free"]), Decimal(row["locked"]))
            for row in account["balances"]
        }


@dataclass(frozen=True)
class Book:
    """Top levels of ``GET /api/v3/depth`` (or ``/fapi/v1/depth``) as decimals."""

    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]

    @property
    def best_bid(self) -> Decimal:
        return self.bids[0][0]

    @property
    def best_ask(self) -> Decimal:
        return self.asks[0][0]

    def bid_qty_at_or_above(self, price: Decimal) -> Decimal:
        return sum((qty for level, qty in self.bids if level >= price), Decimal(0))

    def ask_qty_at_or_below(self, price: Decimal) -> Decimal:
        return sum((qty for level, qty in self.asks if level <= price), Decimal(0))


async def read_book(rest: BinanceRest, path: str = "/api/v3/depth", limit: int = 100) -> Book:
    body = (await rest.public(path, {"symbol": "BTCUSDT", "limit": limit})).json()

    def levels(rows: list[list[str]]) -> list[tuple[Decimal, Decimal]]:
        return [(Decimal(price), Decimal(qty)) for price, qty in rows]

    return Book(levels(body["bids"]), levels(body["asks"]))


def filters_of(symbol: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """An exchangeInfo symbol's ``filters`` keyed by ``filterType``."""
    return {row["filterType"]: row for row in symbol["filters"]}


async def symbol_info(rest: BinanceRest, path: str = "/api/v3/exchangeInfo") -> dict[str, Any]:
    info = (await rest.public(path)).json()
    for symbol in info["symbols"]:
        if symbol["symbol"] == "BTCUSDT":
            assert isinstance(symbol, dict)
            return symbol
    raise AssertionError(f"BTCUSDT is missing from {path}")


def on_step(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded down to a multiple of ``step``."""
    return (value // step) * step


def decimals(value: str) -> int:
    """How many fractional digits a decimal string carries."""
    return len(value.split(".", 1)[1]) if "." in value else 0


# rest-api.md "ENUM definitions" / enums.md "Order status (status)".
SPOT_ORDER_STATUSES = frozenset(
    {
        "NEW",
        "PENDING_NEW",
        "PARTIALLY_FILLED",
        "FILLED",
        "CANCELED",
        "PENDING_CANCEL",
        "REJECTED",
        "EXPIRED",
        "EXPIRED_IN_MATCH",
    }
)
# USD-M "Common Definition", "Order status (status)".
FUTURES_ORDER_STATUSES = frozenset(
    {"NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"}
)

# Every decimal in the documented payloads is a plain string such as "0.00000000",
# "4000.00000000", "-0.07819010" or "30": digits, optional sign and fraction, never
# an exponent.
_PLAIN_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def is_plain_decimal(value: object) -> bool:
    return isinstance(value, str) and _PLAIN_DECIMAL.match(value) is not None


def assert_decimal_fields(row: Mapping[str, Any], fields: Iterable[str]) -> None:
    """Each named field is present and a documented-format decimal string."""
    bad = {
        name: row.get(name, "<missing>") for name in fields if not is_plain_decimal(row.get(name))
    }
    assert not bad, f"fields not documented decimal strings: {bad}"


def assert_keys(row: Mapping[str, Any], expected: Iterable[str]) -> None:
    missing = sorted(set(expected) - set(row))
    assert not missing, f"documented fields missing: {missing} in {sorted(row)}"


def assert_error(
    reply: Reply, code: int, msg: str | None = None, *, status: int | None = None
) -> None:
    """An error payload ``{"code": code, "msg": msg}`` with a 4XX status (or ``status``)."""
    assert isinstance(reply.body, dict), f"not an error object: {reply.status} {reply.body!r}"
    assert (reply.code, reply.msg if msg is not None else None) == (code, msg), (
        f"expected {code} {msg!r}, got HTTP {reply.status} {reply.body!r}"
    )
    if status is not None:
        assert reply.status == status, f"expected HTTP {status}, got {reply.status}"
    else:
        assert 400 <= reply.status < 500, f"expected HTTP 4XX, got {reply.status}"
