"""ccxt's answers about orders, trades and accounts, as the engine's values.

Pure functions over ccxt's dicts: order states, looked-up orders, fills, the result of
a placement, positions and margin. Anything incomplete or contradictory raises
:class:`~router.venues.errors.BadVenueData` or, for a placement, yields UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from router.core.orders import OrderState
from router.venues.convert import decimal, optional_decimal, utc_from_ms
from router.venues.errors import BadVenueData, classify, health_failure
from router.venues.model import Outcome, PlaceResult
from router.venues.reports import VenueOrder, VenueTrade

ZERO = Decimal(0)

_STATES = {
    "closed": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "expired": OrderState.EXPIRED,
    "rejected": OrderState.REJECTED,
}


def order_state(order: Mapping[str, Any]) -> OrderState | None:
    """Our state for a ccxt order; ``None`` when ccxt's status says nothing we can use."""
    status = order.get("status")
    if status == "open":
        filled = optional_decimal(order.get("filled"), "filled") or ZERO
        return OrderState.PARTIALLY_FILLED if filled > 0 else OrderState.OPEN
    return _STATES.get(status) if isinstance(status, str) else None


RAW_FILLED_KEYS = ("executedQty", "accFillSz", "cumExecQty")
"""Where the venues' own answers (ccxt's ``info``) state the executed quantity: Binance
spot and USD-M, OKX, Bybit."""


def _unsized(order: Mapping[str, Any], state: OrderState | None) -> bool:
    """Whether an order that may have traded does not say how much: ccxt reads a
    missing, null or garbled executed quantity as 0 (an expired IOC order would then
    pass for one that sold nothing), and an order cannot be FILLED with nothing filled."""
    if state is None or state is OrderState.REJECTED:
        return False
    info = order.get("info")
    if isinstance(info, Mapping):
        for key in RAW_FILLED_KEYS:
            if key in info:
                try:
                    if decimal(info[key], key) < 0:
                        return True
                except BadVenueData:
                    return True
    if state is not OrderState.FILLED:
        return False
    filled = optional_decimal(order.get("filled"), "filled")
    return filled is None or filled <= 0


def venue_order(
    order: Mapping[str, Any], client_order_id: str, *, check_client_id: bool = True
) -> VenueOrder:
    """A looked-up order. A cancel answer carries the cancel's own client id, hence
    ``check_client_id``. A (partly) filled order must say how much filled."""
    order_id = order.get("id")
    state = order_state(order)
    if order_id is None or state is None:
        raise BadVenueData(
            f"order {client_order_id}: answer without id or usable status "
            f"(id={order_id!r}, status={order.get('status')!r})"
        )
    if _unsized(order, state):
        raise BadVenueData(f"order {client_order_id}: {state} without a usable executed quantity")
    answered = order.get("clientOrderId")
    if check_client_id and answered is not None and answered != client_order_id:
        raise BadVenueData(f"asked for order {client_order_id}, the venue answered {answered}")
    filled = optional_decimal(order.get("filled"), f"order {client_order_id} filled") or ZERO
    return VenueOrder(client_order_id, str(order_id), state, filled)


def venue_trade(
    trade: Mapping[str, Any],
    *,
    order_id: str,
    side: str | None,
    fallback_time: datetime,
) -> VenueTrade:
    """One fill. Binance's FULL order answers carry fills without order id, side or time;
    those come from the order (``order_id``, ``side``) and its timestamp."""
    trade_id = trade.get("id")
    if trade_id is None:
        raise BadVenueData(f"order {order_id}: a fill without a trade id")
    what = f"trade {trade_id}"
    fee = trade.get("fee") or {}
    trade_side = trade.get("side") or side
    if trade_side is None:
        raise BadVenueData(f"{what}: no side")
    fee_cost = fee.get("cost")
    return VenueTrade(
        trade_id=str(trade_id),
        exchange_order_id=str(trade.get("order") or order_id),
        side=str(trade_side),
        quantity=decimal(trade.get("amount"), f"{what} amount"),
        price=decimal(trade.get("price"), f"{what} price"),
        fee=ZERO if fee_cost is None else decimal(fee_cost, f"{what} fee"),
        fee_asset=fee.get("currency"),
        traded_at=utc_from_ms(trade.get("timestamp")) or fallback_time,
    )


def failed(exc: BaseException, client_order_id: str, message: str) -> PlaceResult:
    """The result of a placement that raised ``exc``. An order left in doubt always
    counts against the venue's health, as an ``error`` when ``exc`` says nothing more."""
    outcome = classify(exc)
    failure = health_failure(exc)
    if outcome is Outcome.UNKNOWN and failure is None:
        failure = "error"
    return PlaceResult(
        outcome,
        client_order_id,
        state=OrderState.REJECTED if outcome is Outcome.NOT_PLACED else OrderState.UNKNOWN,
        error_class=type(exc).__name__,
        error_message=message,
        failure=failure,
    )


def placed(order: Mapping[str, Any], client_order_id: str, side: str, now: datetime) -> PlaceResult:
    """The result of a placement that returned ``order``.

    UNKNOWN when the answer lacks an id or a usable status (ccxt returns such an order
    for a garbled body or HTTP 524/599), names another client order id, says it filled
    without saying how much, or carries fills that do not convert.
    """
    order_id = order.get("id")
    state = order_state(order)
    answered = order.get("clientOrderId")
    exchange_order_id = None if order_id is None else str(order_id)
    try:
        unsized = _unsized(order, state)
    except BadVenueData:
        unsized = True
    if (
        exchange_order_id is None
        or state is None
        or unsized
        or answered not in (None, client_order_id)
    ):
        return PlaceResult(
            Outcome.UNKNOWN,
            client_order_id,
            state=OrderState.UNKNOWN,
            exchange_order_id=exchange_order_id,
            error_class=BadVenueData.__name__,
            error_message=(
                f"the order answer is incomplete (id={order_id!r}, "
                f"status={order.get('status')!r}, filled={order.get('filled')!r}, "
                f"clientOrderId={answered!r})"
            ),
            failure=BadVenueData.kind,
        )
    try:
        filled = optional_decimal(order.get("filled"), "filled") or ZERO
        when = utc_from_ms(order.get("timestamp")) or now
        fills = tuple(
            venue_trade(t, order_id=exchange_order_id, side=side, fallback_time=when)
            for t in order.get("trades") or []
        )
    except BadVenueData as exc:
        return PlaceResult(
            Outcome.UNKNOWN,
            client_order_id,
            state=OrderState.UNKNOWN,
            exchange_order_id=exchange_order_id,
            error_class=BadVenueData.__name__,
            error_message=str(exc),
            failure=exc.kind,
        )
    return PlaceResult(Outcome.ACKED, client_order_id, state, exchange_order_id, filled, fills)


def fills_complete(result: PlaceResult) -> bool:
    return sum((f.quantity for f in result.fills), ZERO) == result.filled


def signed_position(rows: Iterable[Mapping[str, Any]], symbol: str) -> Decimal:
    """The net size of ``symbol``'s positions (short negative), in base units."""
    total = ZERO
    for row in rows:
        if row.get("symbol") != symbol or row.get("contracts") is None:
            continue
        size = decimal(row["contracts"], f"{symbol} position")
        contract = decimal(row.get("contractSize") or 1, f"{symbol} contract size")
        if contract != 1:
            size *= contract
        total += -size if row.get("side") == "short" else size
    return total


def free_amount(balance: Mapping[str, Any], asset: str, what: str) -> Decimal:
    """An asset's free amount in a ccxt balance, 0 if absent.

    ccxt leaves out Binance USD-M assets whose ``updateTime`` is 0 (never moved), so
    an account that was funded but never traded reads as empty; the asset's own
    ``availableBalance`` in the raw answer is used then.
    """
    free = (balance.get("free") or {}).get(asset)
    if free is None:
        info = balance.get("info")
        rows = info.get("assets") if isinstance(info, Mapping) else None
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, Mapping) and row.get("asset") == asset:
                free = row.get("availableBalance")
    return ZERO if free is None else decimal(free, what)
