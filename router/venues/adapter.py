"""One adapter over any ``ccxt.async_support`` exchange: the engine's only door to a venue.

Reads (markets, books, balances, order lookups) are retried a few times on network
trouble with exponential backoff; a rate limit is not retried here (the venue asked us
to back off): the :class:`RateLimited` error carries the venue's ``Retry-After`` as
``retry_after_s`` (see :func:`retry_after_of`). Orders are never retried: a resent order
is a second order. ccxt's own request retry (``maxRetriesOnFailure``) is forced to 0 and
its rate limiter on, whatever the client was built with.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeVar

import aiohttp
import ccxt.async_support as ccxt
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from router.venues import answers, convert
from router.venues.errors import (
    BadVenueData,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    VenueError,
    classify,
    failure_kind,
    health_failure,
    is_transient,
    read_error,
    safe_message,
)
from router.venues.health import AnswerLog
from router.venues.model import BookView, MarketInfo, MarketKind, Outcome, PlaceResult
from router.venues.redact import redact_logs
from router.venues.reports import LookupFailed, VenueOrder, VenueTrade
from router.venues.stream import BookStream

log = logging.getLogger(__name__)

T = TypeVar("T")
FUTURES_DEPTHS = (5, 10, 20, 50, 100, 500, 1000)
"""The book depths Binance USD-M accepts."""


def utc_now() -> datetime:
    return datetime.now(UTC)


RATE_WINDOW_MS = 60_000.0
"""The window of the request budget: exchanges state their limits per minute."""


def harden(client: Any, timeout_s: float) -> None:
    """Rate limiter on, no request retries inside ccxt, the venue's timeout, and the
    last answer kept so that a body ccxt could not parse is noticed; the client's keys
    are kept out of ccxt's (DEBUG) request logs.

    The limiter is ccxt's rolling window (the exchange's per-minute budget,
    ``RATE_WINDOW_MS / rateLimit`` cost units) instead of its default leaky bucket,
    which holds a burst to one request and makes every request after a costly one wait
    (an account read costs several units): in a crisis the first wave's reads and
    orders go out at once, and the venue's budget is still never exceeded.
    """
    client.enableRateLimit = True
    if isinstance(client, ccxt.Exchange):
        client.rateLimiterAlgorithm = "rollingWindow"
        client.rollingWindowSize = RATE_WINDOW_MS
        client.tokenBucket = None
        client.init_rest_rate_limiter()
    client.options["maxRetriesOnFailure"] = 0
    client.timeout = int(timeout_s * 1000)
    client.enableLastHttpResponse = True
    client.enableLastJsonResponse = True
    redact_logs(client)


THROTTLED = frozenset({418, 429})
"""The HTTP statuses whose ``Retry-After`` the adapter notes (rate limit, IP ban)."""


def retry_after_seconds(headers: Any, now: datetime) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds (delta-seconds or an HTTP
    date), or ``None`` if the headers carry no usable one."""
    if not isinstance(headers, Mapping):
        return None
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            until = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        seconds = (until - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def retry_after_of(exc: BaseException) -> float | None:
    """The venue's ``Retry-After`` (seconds) a rate-limit error of a read carries, if any."""
    value = getattr(exc, "retry_after_s", None)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _unparsable(exc: Exception) -> Exception:
    """An order call's exception outside ccxt's, ours and network errors (ccxt's parser
    on a nonsense answer: ``int("n/a")``) as BadVenueData; the others as they are."""
    known = (ccxt.BaseError, VenueError, aiohttp.ClientError, OSError, TimeoutError)
    if isinstance(exc, known):
        return exc
    return BadVenueData(f"ccxt failed on the order or its answer: {type(exc).__name__}")


def _check_sides(answer: Any, what: str) -> None:
    """A book answer that names one side must name the other: ccxt reads a missing side
    as an empty one, which in a crisis looks like liquidity gone."""
    if isinstance(answer, dict) and ("bids" in answer) != ("asks" in answer):
        missing = "asks" if "bids" in answer else "bids"
        raise BadVenueData(f"{what}: the book answer has no {missing}")


class VenueAdapter:
    """A venue as the engine sees it; satisfies recovery's ``VenueLookup`` protocol.

    ``loaded`` says whether the markets were loaded at least once (a venue not loaded
    lists nothing); ``load_error`` is the last failed load's message (keys and
    signatures removed), ``None`` once loaded. :mod:`router.venues.loader` loads a venue
    that failed to load again until it loads. ``answers`` notes when the venue last
    answered and last failed to, whoever asked (loads, reads, orders, :meth:`probe`).
    """

    def __init__(
        self,
        name: str,
        exchange: Any,
        *,
        pro: Any = None,
        clock: Callable[[], datetime] = utc_now,
        timeout_s: float = 10.0,
        stale_after_s: float = 2.0,
        read_attempts: int = 3,
        backoff_s: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.stale_after_s = stale_after_s
        self._exchange = exchange
        self._pro = pro
        self._clock = clock
        self._sleep = sleep
        self._read_attempts = read_attempts
        self._backoff_s = backoff_s
        self._markets: dict[str, MarketInfo] = {}
        self._streams: dict[str, BookStream] = {}
        self.loaded = False
        """Whether the markets were loaded at least once."""
        self.load_error: str | None = None
        """Why the last load failed (secrets removed); ``None`` once loaded."""
        self._retry_after: tuple[float, float] | None = None
        """(when noted, on ``time.monotonic``; seconds) of the last throttled answer."""
        self.answers = AnswerLog(time.monotonic)
        """When the venue last answered, and its last failure (wall-clock monotonic)."""
        for client in (exchange, pro):
            if client is not None:
                harden(client, timeout_s)
        self._note_retry_after(exchange)

    # ------------------------------------------------------------------ markets

    async def load(self) -> None:
        """Load the venue's markets (spot and USD-M perpetuals) and the account's fees,
        re-applying the client settings in case they were changed since construction.

        On success ``loaded`` is true and ``load_error`` ``None``; a failure (raised,
        a :class:`VenueError` for the venue's trouble) is noted in ``load_error`` while
        the venue has never loaded. A failed reload keeps the markets already loaded.
        """
        try:
            await self._load()
        except Exception as exc:
            if not self.loaded:
                self.load_error = self._message(exc)
            raise
        self.loaded = True
        self.load_error = None

    async def _load(self) -> None:
        for client in (self._exchange, self._pro):
            if client is not None:
                harden(client, self.timeout_s)
        exchange = self._exchange
        await self._read("load_markets", lambda: exchange.load_markets(True))
        if self._pro is not None:
            self._pro.set_markets(exchange.markets, exchange.currencies)
        spot_fees = await self._spot_fees()
        markets: dict[str, MarketInfo] = {}
        for symbol, raw in exchange.markets.items():
            kind = convert.market_kind(raw)
            if kind is None:
                continue
            try:
                markets[symbol] = convert.market_info(
                    self.name, raw, exchange.precisionMode, spot_fees if kind == "spot" else None
                )
            except BadVenueData as exc:
                log.warning("%s: market %s skipped: %s", self.name, symbol, exc)
        if not markets:
            # A garbled answer parses to no market at all: that is a failed load (to be
            # retried), not a venue that lists nothing.
            raise BadVenueData(f"{self.name}: the venue answered no usable market")
        self._markets = markets

    def market(self, symbol: str) -> MarketInfo:
        try:
            return self._markets[symbol]
        except KeyError:
            raise KeyError(f"{self.name} has no market {symbol!r} (loaded?)") from None

    def markets(self, kind: MarketKind | None = None) -> list[MarketInfo]:
        return [m for m in self._markets.values() if kind is None or m.kind == kind]

    async def _spot_fees(self) -> tuple[Decimal, Decimal] | None:
        """The account's spot commission (taker, maker) where the venue reports it.

        ccxt's market fees for Binance spot are its published defaults, not the
        account's; ``GET /api/v3/account`` carries the account's ``commissionRates``.
        """
        exchange = self._exchange
        fetch = getattr(exchange, "private_get_account", None)
        if exchange.id != "binance" or fetch is None:
            return None
        try:
            account = await self._read("account commission", fetch)
            rates = account["commissionRates"]
            return (
                convert.decimal(rates["taker"], "taker commission"),
                convert.decimal(rates["maker"], "maker commission"),
            )
        except (VenueError, KeyError, TypeError) as exc:
            log.warning("%s: account fees unavailable, using ccxt's: %s", self.name, exc)
            return None

    # ------------------------------------------------------------------ reads

    async def order_book(self, symbol: str, depth: int = 100) -> BookView:
        """The freshest book: the websocket copy if recent enough, else REST."""
        info = self.market(symbol)
        limit = self._depth_limit(info.kind, depth)
        if self._pro is not None:
            stream = self._streams.get(symbol)
            if stream is None:
                stream = BookStream(self._pro, symbol, depth, clock=self._clock, sleep=self._sleep)
                self._streams[symbol] = stream
                stream.start()
            stream.keep = max(stream.keep, depth)
            fresh = stream.fresh(self._clock(), self.stale_after_s)
            if fresh is not None:
                self.answers.answered()
                book = convert.book(fresh.bids, fresh.asks, f"{self.name} {symbol}", depth)
                return BookView(self.name, symbol, book, fresh.received_at, "ws")
        raw = await self._read(
            "fetch_order_book", lambda: self._exchange.fetch_order_book(symbol, limit)
        )
        what = f"{self.name} {symbol}"
        _check_sides(self._exchange.last_json_response, what)
        book = convert.book(raw.get("bids"), raw.get("asks"), what, depth)
        return BookView(self.name, symbol, book, self._clock(), "rest")

    @staticmethod
    def _depth_limit(kind: MarketKind, depth: int) -> int:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        if kind == "linear":
            return next((d for d in FUTURES_DEPTHS if d >= depth), FUTURES_DEPTHS[-1])
        return depth

    async def free_balance(self, asset: str) -> Decimal:
        """The spot wallet's free amount of ``asset``."""
        balance = await self._read(
            "fetch_balance", lambda: self._exchange.fetch_balance({"type": "spot"})
        )
        return answers.free_amount(balance, asset, f"{self.name} free {asset}")

    async def position(self, symbol: str) -> Decimal:
        """The signed size of the USD-M position in ``symbol`` (negative = short)."""
        rows = await self._read("fetch_positions", lambda: self._exchange.fetch_positions([symbol]))
        return answers.signed_position(rows, symbol)

    async def futures_available_margin(self, asset: str = "USDT") -> Decimal:
        """Margin available for new USD-M positions, in ``asset``."""
        balance = await self._read(
            "fetch_balance", lambda: self._exchange.fetch_balance({"type": "swap"})
        )
        return answers.free_amount(balance, asset, f"{self.name} margin {asset}")

    # ------------------------------------------------------------------ orders

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
        """Send one order, once: IOC LIMIT at ``limit_price``, or MARKET without one.

        Never raises for the venue's answer; the result says whether the order was
        acknowledged, definitely not placed, or must be looked up (UNKNOWN). ``fills``
        sum to ``filled`` unless the venue could not be asked for them after the order
        was acknowledged; the fills are then for recovery to read.
        """
        info = self.market(symbol)
        if quantity <= 0 or (limit_price is not None and limit_price <= 0):
            raise ValueError(
                f"quantity and limit price must be positive: {quantity} @ {limit_price}"
            )
        if reduce_only and info.kind != "linear":
            raise ValueError(f"{symbol}: reduce-only orders exist on USD-M markets only")
        exchange = self._exchange
        params: dict[str, Any] = {"clientOrderId": client_order_id, "maxRetriesOnFailure": 0}
        if limit_price is not None:
            params["timeInForce"] = "IOC"
        if reduce_only:
            params["reduceOnly"] = True
        try:
            amount = self._exact(exchange.amount_to_precision, symbol, quantity, "quantity")
            price = None
            if limit_price is not None:
                price = self._exact(exchange.price_to_precision, symbol, limit_price, "price")
            order = await exchange.create_order(
                symbol, "market" if price is None else "limit", side, amount, price, params
            )
        except Exception as exc:
            error = _unparsable(exc)
            if health_failure(error) is None:
                self.answers.answered()  # the venue refused the order: it answers
            else:
                self.answers.failed(f"{self.name}: create_order failed: {self._message(exc)}")
            return answers.failed(error, client_order_id, self._message(exc))
        self.answers.answered()
        result = answers.placed(order, client_order_id, side, self._clock())
        order_id = result.exchange_order_id
        if result.outcome is Outcome.ACKED and order_id and not answers.fills_complete(result):
            try:
                fills = await self.trades_for_order(self.name, info.kind, symbol, order_id)
            except LookupFailed as exc:
                # The order executed but its trades could not be read: answered as in
                # doubt, so the engine looks it up (order and trades) until it is known,
                # rather than journaling a fill-less FILLED attempt nothing revisits.
                log.warning("%s: fills of %s not read yet: %s", self.name, client_order_id, exc)
                return replace(
                    result,
                    outcome=Outcome.UNKNOWN,
                    error_class="FillsUnread",
                    error_message=f"{self.name}: executed, trades not read yet: {exc}"[:500],
                    failure=failure_kind(exc.__cause__ or exc),
                )
            result = replace(result, fills=tuple(fills))
        return result

    def _exact(
        self, to_precision: Callable[[str, str], str], symbol: str, value: Decimal, what: str
    ) -> str:
        """``value`` as ccxt will send it; refuses a value ccxt would round or truncate."""
        text = format(value, "f")
        sent = to_precision(symbol, text)
        if Decimal(sent) != value:
            raise OrderRejected(
                f"{self.name} {symbol}: {what} {text} is off the venue's grid "
                f"(ccxt would send {sent}); not sent"
            )
        return text

    async def cancel(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """Cancel an open order; the order as it ended, or ``None`` if the venue never had it.

        Raises :class:`OrderRejected` if the venue refused the cancel and
        :class:`OutcomeUnknown` if it is not known whether the cancel happened.
        """
        exchange = self._exchange
        try:
            order = await self._retry(
                lambda: exchange.cancel_order(None, symbol, {"origClientOrderId": client_order_id})
            )
        except ccxt.OrderNotFound:
            kind = self.market(symbol).kind
            try:
                return await self.order_by_client_id(self.name, kind, symbol, client_order_id)
            except LookupFailed as exc:
                raise OutcomeUnknown(f"{self.name}: cancel {client_order_id}: {exc}") from exc
        except Exception as exc:
            message = f"{self.name}: cancel {client_order_id} failed: {self._message(exc)}"
            if classify(exc) is Outcome.NOT_PLACED:
                raise OrderRejected(message) from exc
            raise OutcomeUnknown(message) from exc
        try:
            return answers.venue_order(order, client_order_id, check_client_id=False)
        except BadVenueData as exc:
            raise OutcomeUnknown(f"{self.name}: cancel {client_order_id}: {exc}") from exc

    # ------------------------------------------------------------------ VenueLookup

    async def order_by_client_id(
        self, venue: str, market: str, symbol: str, client_order_id: str
    ) -> VenueOrder | None:
        """The order with this client order id (the latest, as Binance keeps them), or
        ``None`` if the venue has none. Raises LookupFailed when the venue cannot say."""
        exchange = self._exchange

        async def fetch() -> dict[str, Any] | None:
            try:
                found: dict[str, Any] = await exchange.fetch_order(
                    None, symbol, {"origClientOrderId": client_order_id}
                )
            except ccxt.OrderNotFound:
                return None
            return found

        try:
            order = await self._read("fetch_order", fetch)
            return None if order is None else answers.venue_order(order, client_order_id)
        except VenueError as exc:
            raise LookupFailed(f"{self.name}: order {client_order_id}: {exc}") from exc

    async def trades_for_order(
        self, venue: str, market: str, symbol: str, exchange_order_id: str
    ) -> Sequence[VenueTrade]:
        """Every fill of one order, from the account's trade history."""
        exchange = self._exchange
        try:
            rows = await self._read(
                "fetch_my_trades",
                lambda: exchange.fetch_my_trades(
                    symbol, None, None, {"orderId": exchange_order_id}
                ),
            )
            now = self._clock()
            return [
                answers.venue_trade(t, order_id=exchange_order_id, side=None, fallback_time=now)
                for t in rows
                if t.get("order") in (None, exchange_order_id)
            ]
        except VenueError as exc:
            raise LookupFailed(f"{self.name}: trades of order {exchange_order_id}: {exc}") from exc

    # ------------------------------------------------------------------ plumbing

    async def close(self) -> None:
        """Stop the book streams and close the ccxt clients."""
        streams, self._streams = self._streams, {}
        for stream in streams.values():
            await stream.close()
        for client in (self._pro, self._exchange):
            if client is not None:
                await client.close()

    async def probe(self) -> None:
        """Ask the venue one cheap question, once (no retry): its server time, or the top
        of one market's book where ccxt cannot ask the time. Noted in ``answers`` like
        every read; raises the read's :class:`VenueError` if the venue did not answer."""
        exchange = self._exchange
        has: Mapping[str, Any] = getattr(exchange, "has", None) or {}
        if has.get("fetchTime"):
            await self._read("fetch_time", exchange.fetch_time, attempts=1)
            return
        market = next(iter(self._markets.values()), None)
        if market is None:
            raise VenueError(f"{self.name}: no market loaded to ask for a book")
        limit = self._depth_limit(market.kind, 5)
        await self._read(
            "fetch_order_book",
            lambda: exchange.fetch_order_book(market.symbol, limit),
            attempts=1,
        )

    async def _retry(self, call: Callable[[], Awaitable[T]], attempts: int | None = None) -> T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts or self._read_attempts),
            wait=wait_exponential(multiplier=self._backoff_s, max=self._backoff_s * 8),
            retry=retry_if_exception(is_transient),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("tenacity ended without a result or an exception")

    async def _read(
        self, action: str, call: Callable[[], Awaitable[T]], *, attempts: int | None = None
    ) -> T:
        """A retried read (``attempts`` tries, the adapter's by default); failures become
        :mod:`router.venues.errors` exceptions and are noted in ``answers``.

        ccxt hands a body it cannot parse as JSON to its parsers as text, which then
        yield empty books, positions or trade lists instead of failing; such an answer
        raises :class:`BadVenueData` here. ccxt records the body just before returning,
        with no suspension point in between, so the one checked is this call's.
        """
        exchange = self._exchange
        exchange.last_http_response = None
        started = time.monotonic()
        try:
            result = await self._retry(call, attempts)
        except Exception as exc:
            error = read_error(exc, self.name, action)
            if isinstance(error, RateLimited):
                error.retry_after_s = self._retry_after_since(started)
            self.answers.failed(self._message(error))
            raise error from exc
        body = exchange.last_http_response
        if body and exchange.last_json_response is None:
            error = BadVenueData(f"{self.name}: {action}: the answer is not JSON: {body[:60]!r}")
            self.answers.failed(self._message(error))
            raise error
        self.answers.answered()
        return result

    def _note_retry_after(self, client: Any) -> None:
        """Note the ``Retry-After`` of each throttled (418/429) answer ``client`` gets:
        ccxt's exceptions do not carry the answer's headers, and ``last_response_headers``
        may belong to another request of the same call (ccxt loads markets with several
        concurrent requests)."""
        answer = getattr(client, "on_rest_response", None)
        if not callable(answer):
            return

        def on_rest_response(
            code: Any, reason: Any, url: Any, method: Any, headers: Any, *rest: Any
        ) -> Any:
            if code in THROTTLED:
                seconds = retry_after_seconds(headers, utc_now())
                if seconds is not None:
                    self._retry_after = (time.monotonic(), seconds)
            return answer(code, reason, url, method, headers, *rest)

        client.on_rest_response = on_rest_response

    def _retry_after_since(self, started: float) -> float | None:
        """The ``Retry-After`` of a throttled answer received since ``started``."""
        noted = self._retry_after
        return noted[1] if noted is not None and noted[0] >= started else None

    def _message(self, exc: BaseException) -> str:
        exchange = self._exchange
        return safe_message(
            exc, (getattr(exchange, "apiKey", None), getattr(exchange, "secret", None))
        )
