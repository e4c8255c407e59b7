"""Numbers and identifiers in requests: one strict ASCII spelling, everything else 422.

Python's ``Decimal`` reads ``"1_0"`` as ten, ``"١"`` and ``"１"`` as one and ignores
surrounding spaces and a leading ``+``; ``re.match`` with ``$`` lets a trailing newline
through. None of these may reach a venue: each is refused naming the field.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest

from router.core.liquidity import Baseline
from tests.service.conftest import Api, close_body

DECIMAL_FIELDS = [
    "quantity",
    "urgency",
    "danger",
    "unrealized_pnl",
    "volatility",
    "deadline_s",
    "max_slippage",
]
VALID = {
    "quantity": "0.5",
    "urgency": "0.5",
    "danger": "0.5",
    "unrealized_pnl": "-0.05",
    "volatility": "0.5",
    "deadline_s": "0.5",
    "max_slippage": "0.5",
}
# Raw JSON spellings: a number (each in range of every field) and strings Decimal reads.
BAD_SPELLINGS = {
    "json-integer": "1",
    "json-zero": "0",
    "json-fraction": "0.5",
    "json-exponent": "5e-1",
    "underscore": json.dumps("1_0"),
    "arabic-indic": json.dumps("١", ensure_ascii=False),
    "arabic-indic-escaped": json.dumps("١"),
    "fullwidth": json.dumps("１", ensure_ascii=False),
    "spaces": json.dumps(" 0.001 "),
    "plus": json.dumps("+0.001"),
    "exponent": json.dumps("1e3"),
    "small-exponent": json.dumps("1E-1"),
    "trailing-newline": json.dumps("0.001\n"),
    "leading-zero": json.dumps("00.5"),
    "bare-point": json.dumps(".5"),
    "trailing-point": json.dumps("1."),
    "comma": json.dumps("0,5"),
    "hex": json.dumps("0x1"),
    "nan": json.dumps("NaN"),
    "boolean": "true",
}


def _raw_body(field: str, raw_value: str) -> bytes:
    """A valid close body whose ``field`` holds ``raw_value`` verbatim (raw JSON)."""
    body = close_body(**{"quantity": "0.5", field: "@@VALUE@@"})
    return json.dumps(body).replace('"@@VALUE@@"', raw_value).encode()


def _named(answer: dict[str, Any]) -> set[str]:
    return {f["field"] for f in answer.get("fields", [])}


async def _post_raw(api: Api, raw: bytes) -> Any:
    return await api.post("/v1/closes", data=raw, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("spelling", sorted(BAD_SPELLINGS))
@pytest.mark.parametrize("field", DECIMAL_FIELDS)
async def test_a_decimal_in_any_other_spelling_is_422_naming_the_field(
    api: Api, field: str, spelling: str
) -> None:
    raw_value = BAD_SPELLINGS[spelling]
    response = await _post_raw(api, _raw_body(field, raw_value))
    text = await response.text()
    assert response.status == 422, text
    answer = json.loads(text)
    assert _named(answer) == {field}, answer
    assert answer["error"] == "invalid request"
    assert all("Value error" not in f["message"] for f in answer["fields"])
    assert api.orders_on_venues() == 0
    assert await api.world.journal.close_by_key("api-close-1") is None
    assert not api.state.pending


@pytest.mark.parametrize("field", DECIMAL_FIELDS)
async def test_the_strict_spelling_of_each_decimal_field_is_accepted(api: Api, field: str) -> None:
    """The refusals above are about spelling: the same field written plainly is taken."""
    response = await api.post("/v1/closes", json=close_body(**{**VALID, field: VALID[field]}))
    assert response.status == 202, await response.text()
    accepted = await response.json()
    await api.finished(accepted["close_id"])


async def test_a_quantity_says_what_it_expects_without_echoing(api: Api) -> None:
    response = await _post_raw(api, _raw_body("quantity", json.dumps("1_0")))
    [named] = (await response.json())["fields"]
    assert named["field"] == "quantity"
    assert named["message"].startswith('must be "all" or a decimal string')
    assert "1_0" not in named["message"]


async def test_a_number_with_nineteen_decimals_is_refused(api: Api) -> None:
    response = await api.post("/v1/closes", json=close_body(quantity="0." + "0" * 18 + "1"))
    assert response.status == 422
    assert _named(await response.json()) == {"quantity"}
    assert api.orders_on_venues() == 0


async def test_a_plain_decimal_with_trailing_zeros_closes_that_quantity(api: Api) -> None:
    response = await api.post("/v1/closes", json=close_body(quantity="1.500"))
    assert response.status == 202
    body = await api.finished((await response.json())["close_id"])
    assert Decimal(body["requested"]) == Decimal("1.5")
    assert sum(Decimal(f["quantity"]) for f in body["fills"]) == Decimal("1.5")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("idempotency_key", "key-1\n"),
        ("idempotency_key", "key 1"),
        ("idempotency_key", "ｋｅｙ"),
        ("idempotency_key", "k" * 129),
        ("symbol", "BTC\n"),
        ("symbol", "ＢＴＣ"),
        ("symbol", "btß"),
        ("symbol", " BTC"),
        ("quote", "USDT\n"),
        ("quote", "ＵＳＤＴ"),
    ],
    ids=repr,
)
async def test_identifiers_must_match_their_whole_pattern(api: Api, field: str, value: str) -> None:
    response = await api.post("/v1/closes", json=close_body(**{field: value}))
    assert response.status == 422, await response.text()
    assert field in _named(await response.json())
    assert api.orders_on_venues() == 0


@pytest.mark.parametrize("value", ["1", "true", 0, None], ids=repr)
async def test_allow_hedge_is_a_json_boolean(api: Api, value: Any) -> None:
    response = await api.post("/v1/closes", json=close_body(allow_hedge=value))
    assert response.status == 422
    assert _named(await response.json()) == {"allow_hedge"}
    assert api.orders_on_venues() == 0


# ---------------------------------------------------------------- the liquidity query

QUERY_SPELLINGS = [
    "1_0",
    "١",
    "１",
    " 0.5 ",
    "+0.5",
    "1e-1",
    "0.5\n",
    ".5",
    "00.5",
    "NaN",
    "",
    "1.5",
]


@pytest.mark.parametrize("value", QUERY_SPELLINGS, ids=repr)
@pytest.mark.parametrize("name", ["danger", "volatility"])
async def test_a_query_fraction_in_any_other_spelling_is_422(
    api: Api, name: str, value: str
) -> None:
    response = await api.get(f"/v1/liquidity/BTC?{name}={quote(value)}")
    assert response.status == 422, await response.text()
    assert _named(await response.json()) == {name}


@pytest.mark.parametrize("value", ["0", "1", "0.25", "1.000"])
async def test_a_query_fraction_in_the_grammar_is_read(api: Api, value: str) -> None:
    response = await api.get(f"/v1/liquidity/BTC?danger={value}&volatility={value}")
    assert response.status == 200, await response.text()


@pytest.mark.parametrize("value", ["yes", "no", "TRUE", "True", "", "true\n", "2", "on"], ids=repr)
async def test_has_position_accepts_only_four_spellings(api: Api, value: str) -> None:
    response = await api.get(f"/v1/liquidity/BTC?has_position={quote(value)}")
    assert response.status == 422
    assert _named(await response.json()) == {"has_position"}


@pytest.mark.parametrize(("value", "votes"), [("true", True), ("1", True), ("false", False)])
async def test_has_position_reads_its_spellings(api: Api, value: str, votes: bool) -> None:
    """Books far thinner than usual: a held position gets the vote to close."""
    for name in api.world.adapters:
        api.state.baselines[(name, "BTC/USDT", "sell")] = Baseline(samples=(Decimal(10**6),) * 5)
    body = await (await api.get(f"/v1/liquidity/BTC?has_position={value}")).json()
    assert bool(body["votes"]) is votes


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/liquidity/BTC%0A", "symbol"),
        ("/v1/liquidity/%EF%BC%A2%EF%BC%B4%EF%BC%A3", "symbol"),
        ("/v1/liquidity/BT%C3%9F", "symbol"),
        ("/v1/liquidity/BTC?quote=USDT%0A", "quote"),
        ("/v1/liquidity/BTC?quote=%EF%BC%B5SDT", "quote"),
    ],
)
async def test_query_identifiers_must_match_their_whole_pattern(
    api: Api, path: str, field: str
) -> None:
    response = await api.get(path)
    assert response.status == 422, await response.text()
    assert _named(await response.json()) == {field}
