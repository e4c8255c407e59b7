"""Request parsing and response shapes: decimals travel as strings, errors name the field."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, NoReturn

from aiohttp import web
from pydantic import ValidationError

from router.core.purpose import OWN_PURPOSES
from router.journal.holdings import covers_of
from router.journal.records import AttemptView, CloseView, FillRecord


class ApiError(Exception):
    """An answer other than success, with a JSON body."""

    def __init__(
        self, status: int, error: str, *, headers: Mapping[str, str] | None = None, **detail: Any
    ) -> None:
        super().__init__(error)
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})
        self.body: dict[str, Any] = {"error": error, **detail}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(payload: Any) -> str:
    return json.dumps(payload, default=_plain, allow_nan=False)


def respond(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(payload, status=status, dumps=dumps, headers=headers)


MAX_NUMBER_CHARS = 100
"""The longest number a request body may hold (decimals travel as strings anyway)."""
MAX_NAME_CHARS = 64
"""How much of an unexpected field name an error answer repeats."""


class _Refused(ValueError):
    """A JSON value the parser refuses; the message is safe to answer with."""


def _reject_constant(name: str) -> NoReturn:
    raise _Refused(f"{name} is not a number")


class JsonNumber(Decimal):
    """A number as a JSON body wrote it (exact). Request fields that hold decimals take
    strings only, and refuse this type like any JSON number."""


def _number(text: str) -> JsonNumber:
    """A JSON number with a fraction or exponent, exactly; refused beyond
    :data:`MAX_NUMBER_CHARS`."""
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number longer than {MAX_NUMBER_CHARS} characters")
    return JsonNumber(text)


def _integer(text: str) -> int:
    """A JSON integer, refused beyond :data:`MAX_NUMBER_CHARS` digits (Python's own limit
    would otherwise answer with its internals)."""
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number longer than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _Refused(f"duplicate key {json.dumps(key)[:MAX_NAME_CHARS]}")
        data[key] = value
    return data


def parse_body(raw: bytes, *, optional: bool = False) -> dict[str, Any]:
    """A UTF-8 JSON object (RFC 8259); numbers are read exactly; NaN, Infinity, duplicate
    keys, numbers longer than :data:`MAX_NUMBER_CHARS` and nesting deeper than the parser
    can follow are refused. Errors say where, never what was sent."""
    if not raw.strip():
        if optional:
            return {}
        raise ApiError(400, "request body must be a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "malformed JSON", detail=f"not UTF-8 at byte {exc.start}") from None
    try:
        data = json.loads(
            text,
            parse_float=_number,
            parse_int=_integer,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise ApiError(400, "malformed JSON", detail="nested too deeply") from None
    except json.JSONDecodeError as exc:
        where = f"malformed JSON at line {exc.lineno} column {exc.colno}"
        raise ApiError(400, "malformed JSON", detail=where) from None
    except _Refused as exc:
        raise ApiError(400, "malformed JSON", detail=str(exc)) from None
    except ValueError:
        raise ApiError(400, "malformed JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def _message(text: str) -> str:
    """Pydantic's message without its ``Value error, `` prefix."""
    return text.removeprefix("Value error, ")


def validation_error(exc: ValidationError) -> ApiError:
    """A 422 naming each offending field, without echoing what was sent (an unexpected
    field's name is cut to :data:`MAX_NAME_CHARS` characters)."""
    fields = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(part)[:MAX_NAME_CHARS] for part in error["loc"]]
        fields.append(
            {
                "field": loc[0] if loc else "",
                "loc": ".".join(loc),
                "message": _message(error["msg"]),
            }
        )
    return ApiError(422, "invalid request", fields=fields)


def field_error(field: str, message: str) -> ApiError:
    return ApiError(
        422, "invalid request", fields=[{"field": field, "loc": field, "message": message}]
    )


def attempt_json(a: AttemptView) -> dict[str, Any]:
    return {
        "client_order_id": a.client_order_id,
        "purpose": a.purpose,
        "wave": a.wave,
        "tier": a.tier,
        "venue": a.venue,
        "market": a.market,
        "symbol": a.symbol,
        "side": a.side,
        "quantity": a.quantity,
        "limit_price": a.limit_price,
        "state": a.state,
        "filled_qty": a.filled_qty,
        "error_class": a.error_class,
        "intent_at": a.intent_at,
    }


def fill_json(f: FillRecord) -> dict[str, Any]:
    return {
        "venue": f.venue,
        "market": f.market,
        "trade_id": f.trade_id,
        "client_order_id": f.client_order_id,
        "side": f.side,
        "quantity": f.quantity,
        "price": f.price,
        "fee": f.fee,
        "fee_asset": f.fee_asset,
        "traded_at": f.traded_at,
    }


def close_json(
    close: CloseView,
    attempts: Sequence[AttemptView],
    fills: Sequence[FillRecord],
    *,
    running: bool,
) -> dict[str, Any]:
    close_fills = [
        f
        for f in fills
        if f.client_order_id in {a.client_order_id for a in attempts if a.purpose in OWN_PURPOSES}
    ]
    filled = sum((f.quantity for f in close_fills), Decimal(0))
    return {
        "close_id": close.id,
        "idempotency_key": close.idempotency_key,
        "symbol": close.symbol,
        "side": close.side,
        "state": close.state,
        "outcome": close.outcome,
        "reason": close.outcome_reason,
        "running": running,
        "requested": close.requested_qty,
        "filled": filled,
        "hedged": close.hedged_qty,
        "residual": close.residual_qty,
        "reference_price": close.reference_price,
        "created_at": close.created_at,
        "finished_at": close.finished_at,
        "attempts": [attempt_json(a) for a in attempts],
        "fills": [fill_json(f) for f in fills],
    }


def hedge_json(row: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "close_id",
        "venue",
        "symbol",
        "side",
        "quantity",
        "unwound_qty",
        "average_price",
        "state",
        "opened_at",
        "closed_at",
    )
    answer = {key: row.get(key) for key in keys}
    answer["covers"] = covers_of(row)
    return answer
