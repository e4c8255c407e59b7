"""One simulated exchange: its markets, account, matching and ledger.

The venue is synchronous and single-threaded; the HTTP layer calls it from the event
loop. Scenario time comes from an injected clock and moves the outside market only
when :meth:`SimVenue.update` runs, so a run driven by a manual clock is exactly
repeatable: the same scenario, seed and requests give the same fills.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from router.sim import errors
from router.sim.accounts import FuturesAccount, SpotAccount
from router.sim.book import EXTERNAL, BookSide, Match, OrderBook, Resting
from router.sim.clock import Clock
from router.sim.faults import FaultInjector
from router.sim.market import MarketModel
from router.sim.orders import MarketKind, Order, Trade
from router.sim.rules import SymbolRules, parse_decimal
from router.sim.scenario import Scenario, VenueSpec

ZERO = Decimal(0)
AVG_PRICE_WINDOW_S = Decimal(300)
CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
CLIENT_ID_LEGAL = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"
ORDER_TYPES = {"LIMIT", "MARKET", "LIMIT_MAKER"}
TIME_IN_FORCE = {"GTC", "IOC", "FOK"}


def _half_life_factor(dt: Decimal, half_life: Decimal) -> Decimal:
    return Decimal(0.5 ** float(dt / half_life))


MAX_DEPLETED_SHARE = Decimal("0.9")
"""Taken liquidity never hides more than this share of the outside book: when depth
collapses, what aggressive orders took earlier cannot wipe out the rest of the book."""


def _decayed(
    depleted: Decimal, decay: Decimal, levels: tuple[tuple[Decimal, Decimal], ...], step: Decimal
) -> Decimal:
    total = sum((qty for _, qty in levels), ZERO)
    return min(depleted * decay, total * MAX_DEPLETED_SHARE).quantize(step, rounding=ROUND_DOWN)


def _clip_from_top(
    levels: tuple[tuple[Decimal, Decimal], ...], depleted: Decimal, step: Decimal
) -> list[tuple[Decimal, Decimal]]:
    """Remove ``depleted`` quantity (rounded up to the lot step) from the best levels first."""
    if depleted <= 0:
        return list(levels)
    left = depleted.quantize(step, rounding=ROUND_UP)
    for index, (price, qty) in enumerate(levels):
        if left >= qty:
            left -= qty
            continue
        return [(price, qty - left), *levels[index + 1 :]]
    return []


def _crosses(aggressor_is_bid: bool, resting_price: Decimal) -> Callable[[Decimal], bool]:
    """Whether an outside quote at a price would trade with a resting order."""
    if aggressor_is_bid:
        return lambda price: price >= resting_price
    return lambda price: price <= resting_price


@dataclass
class SimMarket:
    """A market (spot or USD-M) of one venue: rules, book and outside liquidity."""

    kind: MarketKind
    rules: SymbolRules
    model: MarketModel
    fee_maker: Decimal
    fee_taker: Decimal
    book: OrderBook = field(default_factory=OrderBook)
    depleted_bids: Decimal = ZERO
    depleted_asks: Decimal = ZERO
    t: Decimal | None = None
    mid: Decimal = ZERO
    mids: deque[tuple[Decimal, Decimal]] = field(default_factory=deque)
    stage: str = ""

    def avg_price(self) -> Decimal:
        """The reference of the price bands: the mean mid over the last five minutes."""
        if not self.mids:
            return self.mid
        return sum((m for _, m in self.mids), ZERO) / len(self.mids)


@dataclass
class OrderRequest:
    """A parsed new-order request (already validated for syntax)."""

    symbol: str
    side: str
    type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal
    quote_order_qty: Decimal
    client_order_id: str | None
    reduce_only: bool


OrderListener = Callable[[Order], None]
"""Called with every order the venue accepts, as it enters the ledger (before matching)."""


class SimVenue:
    """A whole simulated exchange. ``ledger`` views are the ground truth for tests.

    ``order_listeners`` observe accepted orders as they arrive (benchmarks timestamp
    them); the list is empty unless someone listens.
    """

    def __init__(
        self,
        scenario: Scenario,
        spec: VenueSpec,
        *,
        seed: int,
        clock: Clock,
        wall_ms: Callable[[], int],
    ) -> None:
        self.scenario = scenario
        self.spec = spec
        self.seed = seed
        self.clock = clock
        self.wall_ms = wall_ms
        self.name = spec.name
        digest = hashlib.sha256(f"{scenario.name}/{spec.name}/{seed}".encode()).hexdigest()
        self.api_key = f"sim{digest[:61]}"
        self.secret = hashlib.sha256(f"secret/{digest}".encode()).hexdigest()
        self.faults = FaultInjector(seed=seed ^ int(digest[:8], 16))
        for fault in scenario.faults:
            if fault.venue in ("*", spec.name):
                self.faults.add(fault)
        self.markets: dict[MarketKind, SimMarket] = {}
        self.markets["spot"] = self._make_market("spot", seed)
        if spec.futures is not None:
            self.markets["linear"] = self._make_market("linear", seed)
        self.asset_markets: dict[str, SimMarket] = {}
        balances = dict(spec.balances)
        for asset in scenario.extra_asset_names():
            extra = self._make_market("spot", seed, asset=asset)
            self.asset_markets[extra.rules.symbol] = extra
            balances.setdefault(asset, spec.balances.get(scenario.base_asset, ZERO))
        self.spot = SpotAccount.with_balances(balances)
        self.order_listeners: list[OrderListener] = []
        self.futures = FuturesAccount(wallet=spec.futures_wallet, leverage=spec.leverage)
        self.orders: dict[MarketKind, dict[int, Order]] = {"spot": {}, "linear": {}}
        self.trades: list[Trade] = []
        self.trades_by_id: dict[tuple[MarketKind, int], Trade] = {}
        self._open_client_ids: dict[tuple[MarketKind, str], int] = {}
        self._latest_client_ids: dict[tuple[MarketKind, str], int] = {}
        first = wall_ms() * 1_000
        self._next_order_id = {"spot": first + 1, "linear": first + 1}
        self._next_trade_id = {"spot": first * 1_000 + 1, "linear": first * 1_000 + 1}
        self._client_seq = 0
        self.update()

    def _make_market(self, kind: MarketKind, seed: int, *, asset: str = "") -> SimMarket:
        """The base asset's market of ``kind``, or a synthetic ``asset``'s spot market."""
        filters = self.spec.spot if kind == "spot" else self.spec.futures
        assert filters is not None
        quote = self.scenario.quote_asset
        rules = SymbolRules(
            kind,
            f"{asset}{quote}" if asset else self.scenario.symbol,
            asset or self.scenario.base_asset,
            quote,
            filters,
        )
        model = MarketModel(self.scenario, self.spec, kind, seed, asset=asset)
        return SimMarket(kind, rules, model, filters.maker_fee, filters.taker_fee)

    def market(self, kind: MarketKind, symbol: str | None) -> SimMarket:
        market = self.markets.get(kind)
        if market is not None and symbol == market.rules.symbol:
            return market
        extra = self.asset_markets.get(symbol or "") if kind == "spot" else None
        if extra is None:
            raise errors.invalid_symbol()
        return extra

    def spot_markets(self) -> list[SimMarket]:
        """Every spot market: the base asset's, then the synthetic assets'."""
        return [self.markets["spot"], *self.asset_markets.values()]

    # ------------------------------------------------------------------ outside market

    def update(self) -> None:
        """Move every market to the clock's scenario time."""
        now = self.clock.now()
        for market in self.markets.values():
            self._advance(market, now)
        for market in self.asset_markets.values():
            self._advance(market, now)

    def _advance(self, market: SimMarket, t: Decimal) -> None:
        tick = self.scenario.tick_s
        t = (t // tick) * tick
        if market.t is not None and t <= market.t:
            return
        dt = ZERO if market.t is None else t - market.t
        market.t = t
        frame = market.model.frame(t)
        market.mid = frame.mid
        market.stage = frame.stage
        market.mids.append((t, frame.mid))
        while market.mids and market.mids[0][0] < t - AVG_PRICE_WINDOW_S:
            market.mids.popleft()
        step = market.rules.f.step_size
        if dt > 0:
            decay = _half_life_factor(dt, self.spec.resilience_s)
            market.depleted_bids = _decayed(market.depleted_bids, decay, frame.bids, step)
            market.depleted_asks = _decayed(market.depleted_asks, decay, frame.asks, step)
        bids = _clip_from_top(frame.bids, market.depleted_bids, step)
        asks = _clip_from_top(frame.asks, market.depleted_asks, step)
        changed = market.book.bids.replace_external(bids)
        changed = market.book.asks.replace_external(asks) or changed
        changed = self._uncross(market) or changed
        if dt > 0:
            changed = self._outside_flow(market, frame.sell_flow * dt, sell=True) or changed
            changed = self._outside_flow(market, frame.buy_flow * dt, sell=False) or changed
        if changed:
            market.book.bump()

    def _uncross(self, market: SimMarket) -> bool:
        """Refreshed outside quotes that cross the account's resting orders trade with them."""
        changed = False
        for passive, aggressor in (
            (market.book.asks, market.book.bids),
            (market.book.bids, market.book.asks),
        ):
            while True:
                best_aggressor = aggressor.best()
                resting = passive.first_owned()
                if best_aggressor is None or resting is None:
                    break
                price, owner = resting
                crosses = _crosses(aggressor.is_bid, price)
                if not crosses(best_aggressor):
                    break
                order = self.orders[market.kind][owner]
                wanted = passive.owned_qty(price, owner)
                taken = aggressor.take_external(wanted, crosses)
                if taken <= 0:
                    break
                passive.reduce_owned(price, owner, taken)
                self._fill(market, order, [Match(price, taken, owner)], maker=True)
                changed = True
                if taken < wanted:
                    break
        return changed

    def _outside_flow(self, market: SimMarket, qty: Decimal, *, sell: bool) -> bool:
        """Other participants' market orders hitting the book (and the account's orders)."""
        step = market.rules.f.step_size
        qty = qty.quantize(step, rounding=ROUND_DOWN) if qty > 0 else ZERO
        if qty <= 0:
            return False
        side = market.book.bids if sell else market.book.asks
        low, high = market.rules.price_band(market.avg_price())
        matches = side.take(
            qty,
            (lambda p: p >= low) if sell else (lambda p: p <= high),
            on_own_order=lambda owner, q: None,
            taker=EXTERNAL,
        )
        external = sum((m.qty for m in matches if m.owner == EXTERNAL), ZERO)
        if sell:
            market.depleted_bids += external
        else:
            market.depleted_asks += external
        by_owner: dict[int, list[Match]] = {}
        for match in matches:
            if match.owner != EXTERNAL:
                by_owner.setdefault(match.owner, []).append(match)
        for owner, owned in by_owner.items():
            self._fill(market, self.orders[market.kind][owner], owned, maker=True)
        return bool(matches)

    # ------------------------------------------------------------------ orders

    def _new_client_id(self) -> str:
        self._client_seq += 1
        digest = hashlib.sha256(f"{self.api_key}/{self._client_seq}".encode()).hexdigest()
        return f"web_{digest[:20]}"

    def parse_order(self, kind: MarketKind, params: Mapping[str, str]) -> OrderRequest:
        """Syntax checks, in Binance's order: mandatory parameters, enums, decimals."""
        symbol = params.get("symbol")
        if not symbol:
            raise errors.mandatory("symbol")
        self.market(kind, symbol)
        side = params.get("side")
        if not side:
            raise errors.mandatory("side")
        if side not in ("BUY", "SELL"):
            raise errors.invalid_side()
        order_type = params.get("type")
        if not order_type:
            raise errors.mandatory("type")
        if order_type not in ORDER_TYPES or (kind == "linear" and order_type == "LIMIT_MAKER"):
            raise errors.invalid_order_type()
        tif = params.get("timeInForce", "")
        if order_type == "LIMIT":
            if not tif:
                raise errors.mandatory("timeInForce")
            if tif not in TIME_IN_FORCE:
                raise errors.invalid_tif()
        elif tif and kind == "spot":
            raise errors.not_required("timeInForce")
        quantity = ZERO
        quote_qty = ZERO
        if "quantity" in params:
            quantity = parse_decimal("quantity", params["quantity"])
        if kind == "spot" and order_type == "MARKET" and "quoteOrderQty" in params:
            if "quantity" in params:
                raise errors.not_required("quoteOrderQty")
            quote_qty = parse_decimal("quoteOrderQty", params["quoteOrderQty"])
        elif "quantity" not in params:
            raise errors.mandatory("quantity")
        price = ZERO
        if order_type in ("LIMIT", "LIMIT_MAKER"):
            if "price" not in params:
                raise errors.mandatory("price")
            price = parse_decimal("price", params["price"])
        elif "price" in params and kind == "spot":
            raise errors.not_required("price")
        client_id = params.get("newClientOrderId") or None
        if client_id is not None and not CLIENT_ID_RE.match(client_id):
            raise errors.illegal_chars("newClientOrderId", CLIENT_ID_LEGAL)
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        if reduce_only and kind == "spot":
            raise errors.not_required("reduceOnly")
        return OrderRequest(
            symbol=symbol,
            side=side,
            type=order_type,
            time_in_force=tif or ("GTC" if kind == "linear" else ""),
            quantity=quantity,
            price=price,
            quote_order_qty=quote_qty,
            client_order_id=client_id,
            reduce_only=reduce_only,
        )

    def new_order(
        self,
        kind: MarketKind,
        req: OrderRequest,
        *,
        fill_ratio: Decimal | None = None,
        force_insufficient: bool = False,
    ) -> Order:
        """Validate against filters and funds, then match. Raises ``ApiError`` on rejection."""
        market = self.market(kind, req.symbol)
        rules = market.rules
        is_market = req.type == "MARKET"
        if req.quantity:
            rules.check_precision("quantity", req.quantity, is_price=False)
        if req.price:
            rules.check_precision("price", req.price, is_price=True)
            rules.check_price(req.price)
            rules.check_limit_band(req.price, self._band_reference(market))
        if req.quote_order_qty:
            if req.quote_order_qty <= 0:
                raise errors.invalid_quantity()
        else:
            rules.check_qty(req.quantity, is_market=is_market)
        reference_price = req.price if req.price else self._band_reference(market)
        notional = req.quote_order_qty or req.quantity * reference_price
        rules.check_notional(notional, reduce_only=req.reduce_only)
        key = (kind, req.client_order_id) if req.client_order_id else None
        if key is not None and key in self._open_client_ids:
            if kind == "spot":
                raise errors.duplicate_order()
            raise errors.futures_duplicate_client_id()
        if req.type == "LIMIT_MAKER" and self._would_take(market, req.side, req.price):
            raise errors.would_take()
        if kind == "linear" and req.reduce_only and not self._reduces(req.side):
            raise errors.reduce_only_rejected()
        if force_insufficient:
            raise errors.insufficient_balance() if kind == "spot" else errors.margin_insufficient()
        self._reserve(market, req)
        now = self.wall_ms()
        order_id = self._next_order_id[kind]
        self._next_order_id[kind] += 1
        order = Order(
            id=order_id,
            market=kind,
            symbol=req.symbol,
            client_order_id=req.client_order_id or self._new_client_id(),
            side=req.side,
            type=req.type,
            time_in_force=req.time_in_force if req.type != "MARKET" else "GTC",
            price=req.price,
            orig_qty=req.quantity,
            quote_order_qty=req.quote_order_qty,
            time_ms=now,
            update_ms=now,
            reduce_only=req.reduce_only,
        )
        self.orders[kind][order_id] = order
        self._open_client_ids[(kind, order.client_order_id)] = order_id
        self._latest_client_ids[(kind, order.client_order_id)] = order_id
        for listener in self.order_listeners:
            listener(order)
        self._execute(market, order, fill_ratio)
        return order

    def _band_reference(self, market: SimMarket) -> Decimal:
        return market.avg_price() if market.kind == "spot" else market.mid

    def _reduces(self, side: str) -> bool:
        position = self.futures.position
        return (position > 0 and side == "SELL") or (position < 0 and side == "BUY")

    def _would_take(self, market: SimMarket, side: str, price: Decimal) -> bool:
        best = market.book.bids.best() if side == "SELL" else market.book.asks.best()
        if best is None:
            return False
        return price <= best if side == "SELL" else price >= best

    def _sweep_estimate(self, market: SimMarket, side: str, qty: Decimal) -> Decimal:
        """Quote value of taking ``qty`` now (for funds checks of market orders)."""
        book_side = market.book.bids if side == "SELL" else market.book.asks
        total = ZERO
        left = qty
        last = market.mid
        for price, level_qty in book_side.levels():
            take = min(left, level_qty)
            total += take * price
            left -= take
            last = price
            if left <= 0:
                break
        return total + left * last

    def _reserve(self, market: SimMarket, req: OrderRequest) -> None:
        """Check and lock funds (spot) or margin (USD-M) for a new order."""
        rules = market.rules
        if market.kind == "spot":
            if req.side == "SELL":
                if req.quote_order_qty:
                    needed = req.quote_order_qty / max(market.mid, Decimal("0.00000001"))
                    if self.spot.get(rules.base).free < needed:
                        raise errors.insufficient_balance()
                    return
                self.spot.lock(rules.base, req.quantity)
            elif req.type == "MARKET":
                cost = req.quote_order_qty or self._sweep_estimate(market, "BUY", req.quantity)
                if self.spot.get(rules.quote).free < cost:
                    raise errors.insufficient_balance()
            else:
                self.spot.lock(rules.quote, req.quantity * req.price)
            return
        if req.reduce_only:
            return
        opening = self.futures.opening_part(req.side, req.quantity)
        if opening <= 0:
            return
        price = req.price or self._sweep_estimate(market, req.side, opening) / opening
        required = opening * price / self.futures.leverage + opening * price * market.fee_taker
        if self.futures.available(market.mid, self._open_order_margin(market)) < required:
            raise errors.margin_insufficient()

    def _open_order_margin(self, market: SimMarket) -> Decimal:
        total = ZERO
        for order in self.orders["linear"].values():
            if order.is_open and not order.reduce_only:
                total += order.remaining * order.price / self.futures.leverage
        return total

    def _execute(self, market: SimMarket, order: Order, fill_ratio: Decimal | None) -> None:
        book_side = market.book.bids if order.side == "SELL" else market.book.asks
        limit = order.price
        low, high = market.rules.price_band(self._band_reference(market))
        if order.type == "MARKET":
            if market.kind == "linear":
                best = book_side.best()
                if best is None or not (low <= best <= high):
                    self._close(market, order, "EXPIRED")
                    raise errors.futures_percent_price_market()

            def acceptable(p: Decimal) -> bool:
                return p >= low if order.side == "SELL" else p <= high
        elif order.side == "SELL":

            def acceptable(p: Decimal) -> bool:
                return p >= limit
        else:

            def acceptable(p: Decimal) -> bool:
                return p <= limit

        wanted = order.orig_qty
        if order.quote_order_qty:
            wanted = self._qty_for_quote(market, book_side, order.quote_order_qty, acceptable)
        if market.kind == "linear" and order.reduce_only:
            wanted = min(wanted, abs(self.futures.position))
        if fill_ratio is not None and wanted > 0:
            step = market.rules.f.step_size
            capped = (wanted * fill_ratio).quantize(step, rounding=ROUND_DOWN)
            wanted = min(wanted, max(capped, step)) if fill_ratio > 0 else ZERO
        if order.time_in_force == "FOK" and self._fillable(book_side, wanted, acceptable) < (
            order.orig_qty
        ):
            wanted = ZERO
        matches = (
            book_side.take(wanted, acceptable, self._expire_own_maker(market), order.id)
            if wanted > 0
            else []
        )
        if matches:
            self._fill(market, order, matches, maker=False)
            self._deplete(market, order.side, matches)
        if order.type == "MARKET" or order.time_in_force in ("IOC", "FOK"):
            if order.is_open:
                self._close(market, order, "EXPIRED" if order.remaining > 0 else "FILLED")
        elif order.is_open and order.remaining > 0:
            own_side = market.book.bids if order.side == "BUY" else market.book.asks
            own_side.add(order.price, Resting(order.id, order.remaining))
        if matches or order.is_open:
            market.book.bump()

    def _deplete(self, market: SimMarket, side: str, matches: list[Match]) -> None:
        taken = sum((m.qty for m in matches if m.owner == EXTERNAL), ZERO)
        if side == "SELL":
            market.depleted_bids += taken
        else:
            market.depleted_asks += taken

    def _qty_for_quote(
        self,
        market: SimMarket,
        side: BookSide,
        quote: Decimal,
        acceptable: Callable[[Decimal], bool],
    ) -> Decimal:
        step = market.rules.market_step
        qty = ZERO
        left = quote
        for price, level_qty in side.levels():
            if not acceptable(price) or left <= 0:
                break
            take = min(level_qty, (left / price).quantize(step, rounding=ROUND_DOWN))
            qty += take
            left -= take * price
        return qty

    def _fillable(
        self, side: BookSide, qty: Decimal, acceptable: Callable[[Decimal], bool]
    ) -> Decimal:
        total = ZERO
        for price, level_qty in side.levels():
            if not acceptable(price) or total >= qty:
                break
            total += level_qty
        return total

    def _expire_own_maker(self, market: SimMarket) -> Callable[[int, Decimal], None]:
        def expire(owner: int, qty: Decimal) -> None:
            order = self.orders[market.kind][owner]
            self._close(market, order, "EXPIRED_IN_MATCH", from_book=False)

        return expire

    def _fill(self, market: SimMarket, order: Order, matches: list[Match], *, maker: bool) -> None:
        rules = market.rules
        fee_rate = market.fee_maker if maker else market.fee_taker
        now = self.wall_ms()
        for match in matches:
            quote = match.price * match.qty
            trade_id = self._next_trade_id[market.kind]
            self._next_trade_id[market.kind] += 1
            realized = ZERO
            if market.kind == "spot":
                if order.side == "SELL":
                    commission, asset = quote * fee_rate, rules.quote
                    self.spot.spend_locked(rules.base, match.qty)
                    self.spot.credit(rules.quote, quote - commission)
                else:
                    commission, asset = match.qty * fee_rate, rules.base
                    if order.type == "MARKET":
                        self.spot.spend_free(rules.quote, quote)
                    else:
                        self.spot.spend_locked(rules.quote, quote)
                        self.spot.unlock(rules.quote, (order.price - match.price) * match.qty)
                    self.spot.credit(rules.base, match.qty - commission)
            else:
                commission, asset = quote * fee_rate, rules.quote
                realized = self.futures.apply_fill(order.side, match.qty, match.price, commission)
                self.futures.update_ms = now
            order.executed_qty += match.qty
            order.cum_quote += quote
            order.trade_ids.append(trade_id)
            self._record(
                Trade(
                    id=trade_id,
                    order_id=order.id,
                    market=market.kind,
                    symbol=order.symbol,
                    side=order.side,
                    price=match.price,
                    qty=match.qty,
                    quote_qty=quote,
                    commission=commission,
                    commission_asset=asset,
                    is_maker=maker,
                    time_ms=now,
                    scenario_t=market.t or ZERO,
                    realized_pnl=realized,
                )
            )
        order.update_ms = now
        order.settle_status()
        if order.status == "FILLED":
            self._release(market, order)
            self._open_client_ids.pop((market.kind, order.client_order_id), None)

    def _record(self, trade: Trade) -> None:
        self.trades.append(trade)
        self.trades_by_id[(trade.market, trade.id)] = trade

    def order_trades(self, order: Order) -> list[Trade]:
        return [self.trades_by_id[(order.market, i)] for i in order.trade_ids]

    def _release(self, market: SimMarket, order: Order) -> None:
        """Unlock what an order no longer needs once it is done."""
        if market.kind != "spot":
            return
        if order.side == "SELL" and not order.quote_order_qty:
            self.spot.unlock(market.rules.base, order.remaining)
        elif order.side == "BUY" and order.type != "MARKET":
            self.spot.unlock(market.rules.quote, order.remaining * order.price)

    def _close(
        self, market: SimMarket, order: Order, status: str, *, from_book: bool = True
    ) -> None:
        if from_book and order.type != "MARKET" and order.time_in_force == "GTC":
            own_side = market.book.bids if order.side == "BUY" else market.book.asks
            if own_side.remove_owner(order.price, order.id):
                market.book.bump()
        order.status = status
        order.update_ms = self.wall_ms()
        self._release(market, order)
        self._open_client_ids.pop((market.kind, order.client_order_id), None)

    def find_order(
        self, kind: MarketKind, symbol: str | None, order_id: str | None, client_id: str | None
    ) -> Order:
        """An order by ``orderId`` or, failing that, the latest with ``origClientOrderId``.

        When both are sent ``orderId`` takes precedence, as Binance documents.
        """
        self.market(kind, symbol)
        if not order_id and not client_id:
            raise errors.ApiError(
                -1102,
                "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!",
            )
        found: Order | None = None
        if order_id:
            if not order_id.isdigit():
                raise errors.illegal_chars("orderId", "^[0-9]{1,20}$")
            found = self.orders[kind].get(int(order_id))
        else:
            assert client_id is not None
            latest = self._latest_client_ids.get((kind, client_id))
            found = self.orders[kind].get(latest) if latest is not None else None
        if found is None or found.symbol != symbol:
            raise errors.no_such_order()
        return found

    def cancel_order(
        self, kind: MarketKind, symbol: str | None, order_id: str | None, client_id: str | None
    ) -> Order:
        market = self.market(kind, symbol)
        try:
            order = self.find_order(kind, symbol, order_id, client_id)
        except errors.ApiError as exc:
            if exc.code == -2013:
                raise errors.unknown_order_cancel() from exc
            raise
        if not order.is_open:
            raise errors.unknown_order_cancel()
        self._close(market, order, "CANCELED")
        return order

    def open_orders(self, kind: MarketKind, symbol: str | None) -> list[Order]:
        if symbol is not None:
            self.market(kind, symbol)
        return [
            o
            for o in self.orders[kind].values()
            if o.is_open and (symbol is None or o.symbol == symbol)
        ]

    def account_trades(
        self,
        kind: MarketKind,
        symbol: str,
        *,
        order_id: int | None = None,
        from_id: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> list[Trade]:
        self.market(kind, symbol)
        if order_id is not None:
            order = self.orders[kind].get(order_id)
            rows = self.order_trades(order) if order is not None else []
        else:
            rows = [t for t in self.trades if t.market == kind and t.symbol == symbol]
        if from_id is not None:
            rows = [t for t in rows if t.id >= from_id]
        else:
            if start_ms is not None:
                rows = [t for t in rows if t.time_ms >= start_ms]
            if end_ms is not None:
                rows = [t for t in rows if t.time_ms <= end_ms]
            if from_id is None and start_ms is None and end_ms is None:
                return rows[-limit:]
        return rows[:limit]
