"""Binance error answers, with the codes, messages and HTTP statuses the venue uses."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer: ``{"code": code, "msg": msg}`` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def unknown_error() -> ApiError:
    return ApiError(-1000, "An unknown error occurred while processing the request.", 500)


def too_many_requests() -> ApiError:
    return ApiError(
        -1003,
        "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. "
        "Please use the websocket for live updates to avoid bans.",
        429,
    )


def execution_unknown() -> ApiError:
    return ApiError(
        -1007,
        "Timeout waiting for response from backend server. "
        "Send status unknown; execution status unknown.",
        408,
    )


def timestamp_ahead() -> ApiError:
    return ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def timestamp_outside_window() -> ApiError:
    return ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def bad_signature() -> ApiError:
    return ApiError(-1022, "Signature for this request is not valid.")


def illegal_chars(param: str, legal: str) -> ApiError:
    return ApiError(
        -1100, f"Illegal characters found in parameter '{param}'; legal range is '{legal}'."
    )


def too_many_params() -> ApiError:
    return ApiError(-1101, "Too many parameters sent for this endpoint.")


def mandatory(param: str) -> ApiError:
    return ApiError(
        -1102, f"Mandatory parameter '{param}' was not sent, was empty/null, or malformed."
    )


def not_required(param: str) -> ApiError:
    return ApiError(-1106, f"Parameter '{param}' sent when not required.")


def too_much_precision(param: str) -> ApiError:
    return ApiError(-1111, f"Parameter '{param}' has too much precision.")


def futures_precision() -> ApiError:
    return ApiError(-1111, "Precision is over the maximum defined for this asset.")


def invalid_tif() -> ApiError:
    return ApiError(-1115, "Invalid timeInForce.")


def invalid_order_type() -> ApiError:
    return ApiError(-1116, "Invalid orderType.")


def invalid_side() -> ApiError:
    return ApiError(-1117, "Invalid side.")


def invalid_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


def recv_window_too_large() -> ApiError:
    return ApiError(-1131, "recvWindow must be less than 60000")


def filter_failure(name: str) -> ApiError:
    return ApiError(-1013, f"Filter failure: {name}")


def invalid_quantity() -> ApiError:
    return ApiError(-1013, "Invalid quantity.")


def invalid_price() -> ApiError:
    return ApiError(-1013, "Invalid price.")


def insufficient_balance() -> ApiError:
    return ApiError(-2010, "Account has insufficient balance for requested action.")


def duplicate_order() -> ApiError:
    return ApiError(-2010, "Duplicate order sent.")


def would_take() -> ApiError:
    return ApiError(-2010, "Order would immediately match and take.")


def unknown_order_cancel() -> ApiError:
    return ApiError(-2011, "Unknown order sent.")


def no_such_order() -> ApiError:
    return ApiError(-2013, "Order does not exist.")


def bad_api_key_format() -> ApiError:
    return ApiError(-2014, "API-key format invalid.", 401)


def invalid_api_key() -> ApiError:
    return ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def margin_insufficient() -> ApiError:
    return ApiError(-2019, "Margin is insufficient.")


def reduce_only_rejected() -> ApiError:
    return ApiError(-2022, "ReduceOnly Order is rejected.")


def futures_qty_not_positive() -> ApiError:
    return ApiError(-4003, "Quantity less than or equal to zero.")


def futures_qty_below_min() -> ApiError:
    return ApiError(-4004, "Quantity less than min quantity.")


def futures_qty_above_max() -> ApiError:
    return ApiError(-4005, "Quantity greater than max quantity.")


def futures_price_below_min() -> ApiError:
    return ApiError(-4013, "Price less than min price.")


def futures_price_above_max() -> ApiError:
    return ApiError(-4002, "Price greater than max price.")


def futures_tick() -> ApiError:
    return ApiError(-4014, "Price not increased by tick size.")


def futures_step() -> ApiError:
    return ApiError(-4023, "Qty not increased by step size.")


def futures_price_too_high(cap: str) -> ApiError:
    return ApiError(-4016, f"Limit price can't be higher than {cap}.")


def futures_price_too_low(floor: str) -> ApiError:
    return ApiError(-4024, f"Limit price can't be lower than {floor}.")


def futures_duplicate_client_id() -> ApiError:
    return ApiError(-4116, "ClientOrderId is duplicated.")


def futures_percent_price_market() -> ApiError:
    return ApiError(
        -4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit."
    )


def futures_min_notional(minimum: str) -> ApiError:
    return ApiError(
        -4164,
        f"Order's notional must be no smaller than {minimum} (unless you choose reduce only).",
    )
