"""Symbol rules of a simulated market: exchangeInfo entries and filter enforcement.

Spot follows Binance's spot filters (PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE,
NOTIONAL, PERCENT_PRICE_BY_SIDE) and answers ``-1013 Filter failure: NAME``; USD-M
follows the futures filters and their dedicated codes (-4014, -4023, -4164 ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from router.sim import errors
from router.sim.orders import MarketKind, fmt8, fmt_step
from router.sim.scenario import MarketFilters

_DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
DECIMAL_LEGAL = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
SPOT_ASSET_PRECISION = 8


def decimals_of(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def parse_decimal(name: str, raw: str) -> Decimal:
    """A Binance decimal parameter, or ``-1100`` naming the parameter."""
    if not _DECIMAL_RE.match(raw):
        raise errors.illegal_chars(name, DECIMAL_LEGAL)
    try:
        return Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes it
        raise errors.illegal_chars(name, DECIMAL_LEGAL) from exc


def _is_multiple(value: Decimal, step: Decimal, base: Decimal = Decimal(0)) -> bool:
    return (value - base) % step == 0


@dataclass(frozen=True)
class SymbolRules:
    market: MarketKind
    symbol: str
    base: str
    quote: str
    f: MarketFilters

    @property
    def market_step(self) -> Decimal:
        return self.f.market_step_size or self.f.step_size

    @property
    def market_min_qty(self) -> Decimal:
        return self.f.market_min_qty or self.f.min_qty

    @property
    def price_precision(self) -> int:
        return decimals_of(self.f.tick_size)

    @property
    def qty_precision(self) -> int:
        return decimals_of(self.f.step_size)

    def fmt_price(self, value: Decimal) -> str:
        return fmt8(value) if self.market == "spot" else fmt_step(value, self.f.tick_size)

    def fmt_qty(self, value: Decimal) -> str:
        return fmt8(value) if self.market == "spot" else fmt_step(value, self.f.step_size)

    def exchange_info(self) -> dict[str, Any]:
        return self._spot_info() if self.market == "spot" else self._futures_info()

    def _spot_info(self) -> dict[str, Any]:
        f = self.f
        return {
            "symbol": self.symbol,
            "status": "TRADING",
            "baseAsset": self.base,
            "baseAssetPrecision": SPOT_ASSET_PRECISION,
            "quoteAsset": self.quote,
            "quotePrecision": SPOT_ASSET_PRECISION,
            "quoteAssetPrecision": SPOT_ASSET_PRECISION,
            "baseCommissionPrecision": SPOT_ASSET_PRECISION,
            "quoteCommissionPrecision": SPOT_ASSET_PRECISION,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
            "icebergAllowed": False,
            "ocoAllowed": False,
            "otoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": fmt8(f.min_price),
                    "maxPrice": fmt8(f.max_price),
                    "tickSize": fmt8(f.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": fmt8(f.min_qty),
                    "maxQty": fmt8(f.max_qty),
                    "stepSize": fmt8(f.step_size),
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": fmt8(self.market_min_qty),
                    "maxQty": fmt8(f.market_max_qty),
                    "stepSize": fmt8(self.market_step),
                },
                {
                    "filterType": "PERCENT_PRICE_BY_SIDE",
                    "bidMultiplierUp": str(f.percent_up),
                    "bidMultiplierDown": str(f.percent_down),
                    "askMultiplierUp": str(f.percent_up),
                    "askMultiplierDown": str(f.percent_down),
                    "avgPriceMins": 5,
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": fmt8(f.min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": "9000000.00000000",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_MAKER"],
        }

    def _futures_info(self) -> dict[str, Any]:
        f = self.f
        return {
            "symbol": self.symbol,
            "pair": self.symbol,
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": self.base,
            "quoteAsset": self.quote,
            "marginAsset": self.quote,
            "pricePrecision": self.price_precision,
            "quantityPrecision": self.qty_precision,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": ["PoW"],
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": self.fmt_price(f.min_price),
                    "maxPrice": self.fmt_price(f.max_price),
                    "tickSize": self.fmt_price(f.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "stepSize": self.fmt_qty(f.step_size),
                    "maxQty": self.fmt_qty(f.max_qty),
                    "minQty": self.fmt_qty(f.min_qty),
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "stepSize": self.fmt_qty(self.market_step),
                    "maxQty": self.fmt_qty(f.market_max_qty),
                    "minQty": self.fmt_qty(self.market_min_qty),
                },
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MIN_NOTIONAL", "notional": str(f.min_notional)},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": f"{f.percent_up:.4f}",
                    "multiplierDown": f"{f.percent_down:.4f}",
                    "multiplierDecimal": "4",
                },
            ],
            "orderTypes": ["LIMIT", "MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK"],
        }

    def check_precision(self, name: str, value: Decimal, *, is_price: bool) -> None:
        if self.market == "spot":
            if decimals_of(value) > SPOT_ASSET_PRECISION:
                raise errors.too_much_precision(name)
            return
        limit = self.price_precision if is_price else self.qty_precision
        if decimals_of(value) > limit:
            raise errors.futures_precision()

    def check_price(self, price: Decimal) -> None:
        """PRICE_FILTER."""
        f = self.f
        if self.market == "spot":
            if (
                price < f.min_price
                or price > f.max_price
                or not _is_multiple(price, f.tick_size, f.min_price)
            ):
                raise errors.filter_failure("PRICE_FILTER")
            return
        if price < f.min_price:
            raise errors.futures_price_below_min()
        if price > f.max_price:
            raise errors.futures_price_above_max()
        if not _is_multiple(price, f.tick_size, f.min_price):
            raise errors.futures_tick()

    def price_band(self, reference: Decimal) -> tuple[Decimal, Decimal]:
        """Lowest and highest price allowed around a reference (avg price or mark)."""
        return reference * self.f.percent_down, reference * self.f.percent_up

    def check_limit_band(self, price: Decimal, reference: Decimal) -> None:
        """PERCENT_PRICE_BY_SIDE (spot) / PERCENT_PRICE (USD-M) for limit orders."""
        low, high = self.price_band(reference)
        if low <= price <= high:
            return
        if self.market == "spot":
            raise errors.filter_failure("PERCENT_PRICE_BY_SIDE")
        if price > high:
            raise errors.futures_price_too_high(self.fmt_price(high))
        raise errors.futures_price_too_low(self.fmt_price(low))

    def check_qty(self, qty: Decimal, *, is_market: bool) -> None:
        """LOT_SIZE, or MARKET_LOT_SIZE (as well) for market orders."""
        f = self.f
        if self.market == "spot":
            if qty < f.min_qty or qty > f.max_qty or not _is_multiple(qty, f.step_size, f.min_qty):
                raise errors.filter_failure("LOT_SIZE")
            if is_market and (
                qty < self.market_min_qty
                or qty > f.market_max_qty
                or not _is_multiple(qty, self.market_step)
            ):
                raise errors.filter_failure("MARKET_LOT_SIZE")
            return
        if qty <= 0:
            raise errors.futures_qty_not_positive()
        minimum = self.market_min_qty if is_market else f.min_qty
        maximum = f.market_max_qty if is_market else f.max_qty
        step = self.market_step if is_market else f.step_size
        if qty < minimum:
            raise errors.futures_qty_below_min()
        if qty > maximum:
            raise errors.futures_qty_above_max()
        if not _is_multiple(qty, step):
            raise errors.futures_step()

    def check_notional(self, notional: Decimal, *, reduce_only: bool = False) -> None:
        """NOTIONAL (spot) / MIN_NOTIONAL (USD-M; reduce-only orders are exempt)."""
        if notional >= self.f.min_notional:
            return
        if self.market == "spot":
            raise errors.filter_failure("NOTIONAL")
        if not reduce_only:
            raise errors.futures_min_notional(str(self.f.min_notional))
