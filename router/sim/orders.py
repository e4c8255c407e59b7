"""Orders and trades of a simulated venue, and their Binance JSON forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

MarketKind = Literal["spot", "linear"]

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
SPOT_DECIMALS = Decimal("0.00000001")


def fmt8(value: Decimal) -> str:
    """Spot's fixed eight-decimal strings ("0.50000000")."""
    return f"{value.quantize(SPOT_DECIMALS):f}"


def fmt_places(value: Decimal, places: int) -> str:
    """A plain decimal string with ``places`` decimals (never exponent notation)."""
    return f"{value:.{places}f}"


def fmt_step(value: Decimal, step: Decimal) -> str:
    """A quantity or price written with the precision of its filter step."""
    exponent = step.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return f"{value:.{places}f}"


@dataclass
class Trade:
    """One execution of an order of the venue's account: the venue's ground truth."""

    id: int
    order_id: int
    market: MarketKind
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    time_ms: int
    scenario_t: Decimal
    realized_pnl: Decimal = Decimal(0)


@dataclass
class Order:
    """An order of the venue's account, in its current state."""

    id: int
    market: MarketKind
    symbol: str
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    time_ms: int
    reduce_only: bool = False
    quote_order_qty: Decimal = Decimal(0)
    executed_qty: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    status: str = "NEW"
    update_ms: int = 0
    trade_ids: list[int] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def avg_price(self) -> Decimal:
        if self.executed_qty == 0:
            return Decimal(0)
        return self.cum_quote / self.executed_qty

    def settle_status(self) -> None:
        """Status after matching for an order that may rest on the book."""
        if self.executed_qty >= self.orig_qty:
            self.status = "FILLED"
        elif self.executed_qty > 0:
            self.status = "PARTIALLY_FILLED"
        else:
            self.status = "NEW"

    def spot_json(self, tick: Decimal) -> dict[str, Any]:
        """``GET /api/v3/order`` form."""
        return {
            "symbol": self.symbol,
            "orderId": self.id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": fmt8(self.price),
            "origQty": fmt8(self.orig_qty),
            "executedQty": fmt8(self.executed_qty),
            "cummulativeQuoteQty": fmt8(self.cum_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "stopPrice": fmt8(Decimal(0)),
            "icebergQty": fmt8(Decimal(0)),
            "time": self.time_ms,
            "updateTime": self.update_ms,
            "isWorking": True,
            "workingTime": self.time_ms,
            "origQuoteOrderQty": fmt8(self.quote_order_qty),
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def spot_ack(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "transactTime": self.time_ms,
        }

    def spot_result(self) -> dict[str, Any]:
        out = self.spot_ack()
        out.update(
            {
                "price": fmt8(self.price),
                "origQty": fmt8(self.orig_qty),
                "executedQty": fmt8(self.executed_qty),
                "origQuoteOrderQty": fmt8(self.quote_order_qty),
                "cummulativeQuoteQty": fmt8(self.cum_quote),
                "status": self.status,
                "timeInForce": self.time_in_force,
                "type": self.type,
                "side": self.side,
                "workingTime": self.time_ms,
                "selfTradePreventionMode": "EXPIRE_MAKER",
            }
        )
        return out

    def futures_json(self, tick: Decimal, step: Decimal) -> dict[str, Any]:
        """``GET /fapi/v1/order`` form (also the RESULT answer of a new order)."""
        return {
            "orderId": self.id,
            "symbol": self.symbol,
            "status": self.status,
            "clientOrderId": self.client_order_id,
            "price": fmt_step(self.price, tick),
            "avgPrice": fmt_places(self.avg_price, 5),
            "origQty": fmt_step(self.orig_qty, step),
            "executedQty": fmt_step(self.executed_qty, step),
            "cumQty": fmt_step(self.executed_qty, step),
            "cumQuote": fmt_places(self.cum_quote, 5),
            "timeInForce": self.time_in_force,
            "type": self.type,
            "reduceOnly": self.reduce_only,
            "closePosition": False,
            "side": self.side,
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": self.type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0,
            "time": self.time_ms,
            "updateTime": self.update_ms,
        }


def spot_fill_json(trade: Trade) -> dict[str, Any]:
    return {
        "price": fmt8(trade.price),
        "qty": fmt8(trade.qty),
        "commission": fmt8(trade.commission),
        "commissionAsset": trade.commission_asset,
        "tradeId": trade.id,
    }


def spot_trade_json(trade: Trade) -> dict[str, Any]:
    """``GET /api/v3/myTrades`` row."""
    return {
        "symbol": trade.symbol,
        "id": trade.id,
        "orderId": trade.order_id,
        "orderListId": -1,
        "price": fmt8(trade.price),
        "qty": fmt8(trade.qty),
        "quoteQty": fmt8(trade.quote_qty),
        "commission": fmt8(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time_ms,
        "isBuyer": trade.side == "BUY",
        "isMaker": trade.is_maker,
        "isBestMatch": True,
    }


def futures_trade_json(trade: Trade, tick: Decimal, step: Decimal) -> dict[str, Any]:
    """``GET /fapi/v1/userTrades`` row."""
    return {
        "buyer": trade.side == "BUY",
        "commission": fmt_places(trade.commission, 8),
        "commissionAsset": trade.commission_asset,
        "id": trade.id,
        "maker": trade.is_maker,
        "orderId": trade.order_id,
        "price": fmt_step(trade.price, tick),
        "qty": fmt_step(trade.qty, step),
        "quoteQty": fmt_places(trade.quote_qty, 5),
        "realizedPnl": fmt_places(trade.realized_pnl, 8),
        "side": trade.side,
        "positionSide": "BOTH",
        "symbol": trade.symbol,
        "time": trade.time_ms,
    }
