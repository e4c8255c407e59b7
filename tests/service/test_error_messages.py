"""Error answers say what is wrong and where, never repeat what was sent or Python's
internals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.service.conftest import Api, close_body

INTERNALS = ("int_max_str_digits", "4300", "Exceeds the limit", "codec", "Expecting", "char ")


async def _post_raw(api: Api, raw: bytes) -> Any:
    return await api.post("/v1/closes", data=raw, headers={"Content-Type": "application/json"})


def _with(field: str, raw_value: str) -> bytes:
    body = close_body(**{field: "@@VALUE@@"})
    return json.dumps(body).replace('"@@VALUE@@"', raw_value).encode()


@pytest.mark.parametrize(
    "raw_value", ["9" * 10_000, "-" + "9" * 10_000, "0." + "1" * 10_000, "1" * 5000 + "e5"]
)
async def test_a_huge_json_number_is_refused_without_python_internals(
    api: Api, raw_value: str
) -> None:
    response = await _post_raw(api, _with("quantity", raw_value))
    text = await response.text()
    assert response.status == 400, text
    assert json.loads(text) == {
        "error": "malformed JSON",
        "detail": "a number longer than 100 characters",
    }
    assert api.orders_on_venues() == 0


async def test_a_number_of_a_hundred_digits_reads_and_is_refused_as_a_json_number(
    api: Api,
) -> None:
    response = await _post_raw(api, _with("quantity", "9" * 100))
    assert response.status == 422
    [named] = (await response.json())["fields"]
    assert named["field"] == "quantity"
    assert "9" * 20 not in named["message"]


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"symbol": "BTC",', "line 1 column 18"),
        (b'{\n  "symbol": "BTC"\n  "side": "sell"}', "line 3 column 3"),
        (b'{"symbol": secret-value}', "line 1 column 12"),
        (b'{"symbol": "BTC"} trailing', "line 1 column 19"),
    ],
)
async def test_malformed_json_says_where(api: Api, raw: bytes, where: str) -> None:
    response = await _post_raw(api, raw)
    assert response.status == 400
    answer = await response.json()
    assert answer == {"error": "malformed JSON", "detail": f"malformed JSON at {where}"}


async def test_a_body_that_is_not_utf8_says_which_byte(api: Api) -> None:
    response = await _post_raw(api, b'{"reason": "caf\xe9"}')
    assert response.status == 400
    assert await response.json() == {"error": "malformed JSON", "detail": "not UTF-8 at byte 15"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"quantity": NaN}',
        b'{"a": "x", "a": "y"}',
        b"[" * 30000 + b"]" * 30000,
        b'{"quantity": ' + b"1" * 10_000 + b"}",
        b'{"reason": "\xff"}',
        b"{,}",
    ],
    ids=["nan", "duplicate", "deep", "long-int", "latin1", "comma"],
)
async def test_no_malformed_body_answers_with_internals(api: Api, raw: bytes) -> None:
    response = await _post_raw(api, raw)
    assert response.status == 400
    text = await response.text()
    for internal in INTERNALS:
        assert internal not in text
    assert set(json.loads(text)) <= {"error", "detail"}


async def test_validation_errors_never_include_the_input(api: Api) -> None:
    secret = "s3cr3t-" + "x" * 200
    body = close_body(side=secret, quantity=secret, symbol=secret, reason=secret * 10)
    response = await api.post("/v1/closes", json=body)
    assert response.status == 422
    text = await response.text()
    assert "s3cr3t" not in text
    assert "input" not in json.loads(text)["fields"][0]


async def test_an_unexpected_field_is_named_but_not_repeated_in_full(api: Api) -> None:
    name = "z" * 10_000
    response = await api.post("/v1/closes", json=close_body(**{name: "1"}))
    assert response.status == 422
    [named] = (await response.json())["fields"]
    assert named["field"] == "z" * 64
    assert named["message"] == "Extra inputs are not permitted"
