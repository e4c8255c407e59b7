"""USD-M tick and step rules where the precision allows an off-grid value.

"Error Codes" (developers.binance.com, derivatives/usds-margined-futures):
-4014 PRICE_NOT_INCREASED_BY_TICK_SIZE "Price not increased by tick size." and
-4023 QTY_NOT_INCREASED_BY_STEP_SIZE "Qty not increased by step size."; "Common
Definition" Filters: "(price - minPrice) % tickSize == 0" and
"(quantity - minQty) % stepSize == 0". These codes show up when a symbol's tick or
step is coarser than its pricePrecision / quantityPrecision (JKorf/Binance.Net#716:
-4014 after Binance coarsened some ticks), so this module runs venue alpha with a
0.5 tick and a 0.005 step.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from router.sim.scenario import Scenario
from tests.sim.conftest import small_world

from .helpers import BinanceRest, assert_error, decimals, filters_of, read_book, symbol_info

ORDER = "/fapi/v1/order"


@pytest.fixture
def world() -> Scenario:
    base = small_world()
    venues: list[dict[str, Any]] = [spec.model_dump(mode="json") for spec in base.venues]
    venues[0]["futures"] = {"tick_size": "0.5", "step_size": "0.005", "min_qty": "0.005"}
    return small_world(venues=venues)


@dataclass(frozen=True)
class Grid:
    min_price: Decimal
    tick: Decimal
    step: Decimal
    price_precision: int
    quantity_precision: int

    def price_below(self, level: Decimal) -> Decimal:
        """The highest on-grid price (minPrice + k * tickSize) at or below ``level``."""
        return self.min_price + (level - self.min_price) // self.tick * self.tick


async def grid(rest: BinanceRest) -> Grid:
    symbol = await symbol_info(rest, "/fapi/v1/exchangeInfo")
    filters = filters_of(symbol)
    return Grid(
        min_price=Decimal(filters["PRICE_FILTER"]["minPrice"]),
        tick=Decimal(filters["PRICE_FILTER"]["tickSize"]),
        step=Decimal(filters["LOT_SIZE"]["stepSize"]),
        price_precision=symbol["pricePrecision"],
        quantity_precision=symbol["quantityPrecision"],
    )


async def resting_buy_price(rest: BinanceRest, rules: Grid) -> Decimal:
    book = await read_book(rest, "/fapi/v1/depth")
    return rules.price_below(book.best_bid - 50)


async def test_exchange_info_reports_the_coarse_grid(rest: BinanceRest) -> None:
    rules = await grid(rest)
    assert (rules.tick, rules.step) == (Decimal("0.5"), Decimal("0.005"))
    assert rules.price_precision >= decimals(str(rules.tick))
    assert rules.quantity_precision >= decimals(str(rules.step))


# A price with one decimal (within pricePrecision) that is not minPrice + k * 0.5.
async def test_price_within_precision_but_off_tick(rest: BinanceRest) -> None:
    rules = await grid(rest)
    price = await resting_buy_price(rest, rules) + Decimal("0.2")
    assert decimals(str(price)) <= rules.price_precision
    reply = await rest.new_order(
        ORDER, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price=str(price)
    )
    assert_error(reply, -4014, "Price not increased by tick size.")


# A quantity with three decimals (within quantityPrecision) that is not
# minQty + k * 0.005, on an on-grid price.
async def test_quantity_within_precision_but_off_step(rest: BinanceRest) -> None:
    rules = await grid(rest)
    price = await resting_buy_price(rest, rules)
    quantity = "0.012"
    assert decimals(quantity) <= rules.quantity_precision
    reply = await rest.new_order(
        ORDER, side="BUY", type="LIMIT", timeInForce="GTC", quantity=quantity, price=str(price)
    )
    assert_error(reply, -4023, "Qty not increased by step size.")


# On the grid the same order is accepted.
async def test_on_grid_order_is_accepted(rest: BinanceRest) -> None:
    rules = await grid(rest)
    price = await resting_buy_price(rest, rules)
    reply = await rest.new_order(
        ORDER, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price=str(price)
    )
    assert reply.json()["status"] == "NEW"
