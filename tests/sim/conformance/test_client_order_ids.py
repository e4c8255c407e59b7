"""Client order ids and order look-ups.

binance-spot-api-docs ``rest-api.md`` "New order": ``newClientOrderId`` is "A unique id
among open orders. Automatically generated if not sent. Orders with the same
newClientOrderID can be accepted only when the previous one is filled, otherwise the
order will be rejected." ``errors.md``: -2010 with "Duplicate order sent.", -2011 with
"Unknown order sent.", -2013 "Order does not exist.", -1100 ILLEGAL_CHARS.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from .helpers import BinanceRest, assert_error, read_book


async def rest_limit_buy(rest: BinanceRest, client_id: str) -> dict[str, Any]:
    """A LIMIT GTC BUY below the market that stays open."""
    book = await read_book(rest)
    reply = await rest.new_order(
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price=str(book.best_bid - 100),
        newClientOrderId=client_id,
    )
    return reply.json()


# rest-api.md "New order" responses: clientOrderId is the id the client chose.
async def test_new_client_order_id_is_echoed(rest: BinanceRest) -> None:
    order = await rest_limit_buy(rest, "my-order_1")
    assert order["clientOrderId"] == "my-order_1"
    queried = (await rest.query_order(origClientOrderId="my-order_1")).json()
    assert queried["orderId"] == order["orderId"]
    assert queried["clientOrderId"] == "my-order_1"


# "Automatically generated if not sent": an order without one still gets an id.
async def test_client_order_id_is_generated_when_absent(rest: BinanceRest) -> None:
    book = await read_book(rest)
    order = (
        await rest.new_order(
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.001",
            price=str(book.best_bid - 100),
        )
    ).json()
    assert isinstance(order["clientOrderId"], str)
    assert order["clientOrderId"]


# "A unique id among open orders": reusing it while the first order is open is
# rejected with -2010 NEW_ORDER_REJECTED, message "Duplicate order sent.".
async def test_duplicate_id_of_an_open_order_is_rejected(rest: BinanceRest) -> None:
    first = await rest_limit_buy(rest, "dup-1")
    book = await read_book(rest)
    reply = await rest.new_order(
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.002",
        price=str(book.best_bid - 200),
        newClientOrderId="dup-1",
    )
    assert_error(reply, -2010, "Duplicate order sent.")
    still = (await rest.query_order(origClientOrderId="dup-1")).json()
    assert still["orderId"] == first["orderId"]
    assert still["status"] == "NEW"


# Uniqueness is among open orders only: once the first order is canceled the id is
# accepted again, and "Query order" by origClientOrderId finds the newer order.
async def test_id_is_reusable_after_cancel(rest: BinanceRest) -> None:
    first = await rest_limit_buy(rest, "reuse-after-cancel")
    (await rest.cancel_order(origClientOrderId="reuse-after-cancel")).json()
    second = await rest_limit_buy(rest, "reuse-after-cancel")
    assert second["orderId"] != first["orderId"]
    queried = (await rest.query_order(origClientOrderId="reuse-after-cancel")).json()
    assert queried["orderId"] == second["orderId"]
    assert queried["status"] == "NEW"


# "can be accepted only when the previous one is filled": after a fill, reuse works.
async def test_id_is_reusable_after_fill(rest: BinanceRest) -> None:
    first = (
        await rest.new_order(
            side="SELL", type="MARKET", quantity="0.001", newClientOrderId="reuse-after-fill"
        )
    ).json()
    assert first["status"] == "FILLED"
    second = await rest_limit_buy(rest, "reuse-after-fill")
    queried = (await rest.query_order(origClientOrderId="reuse-after-fill")).json()
    assert queried["orderId"] == second["orderId"] != first["orderId"]


# An expired order (IOC/FOK) is not open either, so its id is free again.
async def test_id_is_reusable_after_expiry(rest: BinanceRest) -> None:
    book = await read_book(rest)
    expired = (
        await rest.new_order(
            side="SELL",
            type="LIMIT",
            timeInForce="FOK",
            quantity="0.001",
            price=str(book.best_ask + 100),
            newClientOrderId="reuse-after-expiry",
        )
    ).json()
    assert expired["status"] == "EXPIRED"
    second = await rest_limit_buy(rest, "reuse-after-expiry")
    assert second["clientOrderId"] == "reuse-after-expiry"


# errors.md -1100 ILLEGAL_CHARS "Illegal characters found in parameter '%s'; legal
# range is '%s'." Binance's answer for newClientOrderId (binance-spot-api-docs PR #34,
# maintainer reply): legal range '^[a-zA-Z0-9-_]{1,36}$' (later docs widen the
# characters to '^[\.A-Z\:/a-z0-9_-]{1,36}$'). 40 characters or a space break both, so
# only the code and the parameter name are asserted.
@pytest.mark.parametrize("client_id", ["x" * 40, "has space"])
async def test_illegal_client_order_id(rest: BinanceRest, client_id: str) -> None:
    book = await read_book(rest)
    reply = await rest.new_order(
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price=str(book.best_bid - 100),
        newClientOrderId=client_id,
    )
    assert reply.code == -1100, reply.body
    assert reply.msg is not None
    assert reply.msg.startswith("Illegal characters found in parameter 'newClientOrderId'")
    assert 400 <= reply.status < 500


# A 36-character id from the legal alphabet is the documented maximum and is accepted.
async def test_client_order_id_of_36_characters_is_legal(rest: BinanceRest) -> None:
    client_id = "A1-_" * 9
    order = await rest_limit_buy(rest, client_id)
    assert order["clientOrderId"] == client_id


# errors.md -2013 NO_SUCH_ORDER "Order does not exist." for "Query order" of an
# unknown orderId or origClientOrderId.
async def test_query_unknown_order(rest: BinanceRest) -> None:
    assert_error(await rest.query_order(orderId=987654321), -2013, "Order does not exist.")
    assert_error(
        await rest.query_order(origClientOrderId="never-sent"), -2013, "Order does not exist."
    )


# "Query order": "Either orderId or origClientOrderId must be sent." errors.md -1102
# "Param '%s' or '%s' must be sent, but both were empty/null!". The docs do not fix
# the order of the two names, so either order is accepted.
async def test_query_order_needs_an_id(rest: BinanceRest) -> None:
    reply = await rest.query_order()
    template = "Param '{}' or '{}' must be sent, but both were empty/null!"
    accepted = {
        template.format("origClientOrderId", "orderId"),
        template.format("orderId", "origClientOrderId"),
    }
    assert reply.code == -1102, reply.body
    assert reply.msg in accepted, reply.msg
    assert 400 <= reply.status < 500


# "Cancel order" = "Cancel an active order". errors.md: -2011 CANCEL_REJECTED with
# "Unknown order sent." when the order "could not be found" (a filled order is no
# longer on the book), both by orderId and by origClientOrderId.
async def test_cancel_filled_order_is_unknown(rest: BinanceRest) -> None:
    filled = (
        await rest.new_order(
            side="SELL", type="MARKET", quantity="0.001", newClientOrderId="done-already"
        )
    ).json()
    assert filled["status"] == "FILLED"
    by_id = await rest.cancel_order(orderId=filled["orderId"])
    assert_error(by_id, -2011, "Unknown order sent.")
    by_client_id = await rest.cancel_order(origClientOrderId="done-already")
    assert_error(by_client_id, -2011, "Unknown order sent.")


# Canceling twice: the second cancel finds no active order either.
async def test_cancel_twice(rest: BinanceRest) -> None:
    order = await rest_limit_buy(rest, "cancel-twice")
    assert (await rest.cancel_order(orderId=order["orderId"])).json()["status"] == "CANCELED"
    assert_error(await rest.cancel_order(orderId=order["orderId"]), -2011, "Unknown order sent.")


# "Cancel order": "If both parameters are sent, orderId takes precedence."
async def test_cancel_prefers_order_id(rest: BinanceRest) -> None:
    first = await rest_limit_buy(rest, "precedence-a")
    second = await rest_limit_buy(rest, "precedence-b")
    canceled = (
        await rest.cancel_order(orderId=first["orderId"], origClientOrderId="precedence-b")
    ).json()
    assert canceled["orderId"] == first["orderId"]
    still_open = (await rest.query_order(orderId=second["orderId"])).json()
    assert still_open["status"] == "NEW"
    assert Decimal(still_open["executedQty"]) == 0
