"""CloseRequest: strings in the strict grammar from JSON, Decimals from Python callers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from router.engine.request import DECIMAL_FIELDS, CloseRequest
from router.service.schemas import parse_body

BASE: dict[str, Any] = {"symbol": "BTC", "side": "sell", "idempotency_key": "k-1"}


def _fields(error: ValidationError) -> set[str]:
    return {str(e["loc"][0]) for e in error.errors()}


def test_decimal_objects_from_python_are_taken_as_they_are() -> None:
    request = CloseRequest(
        **BASE,
        quantity=Decimal("1E+1"),
        urgency=Decimal("0.9"),
        unrealized_pnl=Decimal("-0.25"),
        deadline_s=Decimal(30),
        max_slippage=Decimal("0.05"),
    )
    assert request.quantity == Decimal(10)
    assert request.unrealized_pnl == Decimal("-0.25")


@pytest.mark.parametrize("field", DECIMAL_FIELDS)
@pytest.mark.parametrize("value", [1, 0.5, True], ids=repr)
def test_python_ints_and_floats_are_refused_like_json_numbers(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        CloseRequest.model_validate({**BASE, "quantity": "1", field: value})
    assert _fields(caught.value) == {field}


@pytest.mark.parametrize("field", DECIMAL_FIELDS)
def test_a_json_number_read_exactly_by_the_body_parser_is_refused(field: str) -> None:
    data = parse_body(b'{"%s": 0.5}' % field.encode())
    assert isinstance(data[field], Decimal)
    with pytest.raises(ValidationError) as caught:
        CloseRequest.model_validate({**BASE, "quantity": "1", **data})
    assert _fields(caught.value) == {field}


def test_range_checks_apply_to_python_decimals_too() -> None:
    with pytest.raises(ValidationError) as caught:
        CloseRequest(**BASE, quantity=Decimal(1), urgency=Decimal(2), danger=Decimal("NaN"))
    assert _fields(caught.value) == {"urgency", "danger"}


def test_a_request_dumps_plain_digits_and_reads_back_equal() -> None:
    request = CloseRequest(**BASE, quantity=Decimal("0.0000001"), deadline_s=Decimal("1E+2"))
    dumped = request.model_dump(mode="json")
    assert dumped["quantity"] == "0.0000001"
    assert dumped["deadline_s"] == "100"
    assert CloseRequest.model_validate(dumped) == request
    assert CloseRequest.from_journal(dumped) == request


def test_from_journal_reads_older_spellings_but_validates_the_rest() -> None:
    stored = {**BASE, "quantity": "1E-7", "urgency": "5E-1", "danger": "0"}
    request = CloseRequest.from_journal(stored)
    assert request.quantity == Decimal("0.0000001")
    assert request.urgency == Decimal("0.5")
    assert CloseRequest.from_journal({**BASE, "quantity": "all"}).quantity == "all"
    with pytest.raises(ValidationError):
        CloseRequest.from_journal({**BASE, "quantity": "-1"})
    with pytest.raises(ValidationError):
        CloseRequest.from_journal({**BASE, "quantity": "1", "urgency": "Infinity"})


def test_sameness_is_by_value_and_by_upper_cased_asset() -> None:
    one = CloseRequest.model_validate({**BASE, "quantity": "1"})
    assert one == CloseRequest.model_validate(
        {**BASE, "symbol": "btc", "quantity": "1.000", "urgency": "0.50", "quote": "usdt"}
    )
    assert one != CloseRequest.model_validate({**BASE, "quantity": "1", "reason": "x"})
    assert one != CloseRequest.model_validate({**BASE, "quantity": "1", "venues": ["alpha"]})
