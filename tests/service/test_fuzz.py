"""Property-based fuzzing of the HTTP API from its OpenAPI document.

Bodies are generated from the request schemas of ``docs/openapi.yaml`` with hostile
values (or as raw malformed bytes); every invalid request must be refused with a 4xx
whose JSON body names the problem, without internals, and without any order reaching a
venue. Valid bodies must be accepted, so the fuzzer is not vacuous.

``FUZZ_EXAMPLES`` (default 150) sets the examples per property for long runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.core.decimal_text import ID
from router.engine.outcome import CloseResult
from router.engine.request import CloseRequest
from router.journal.records import NewClose
from router.journal.repository import Journal
from tests.service.conftest import Api

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
OPENAPI: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "docs" / "openapi.yaml").read_text(encoding="utf-8")
)
SCHEMAS: dict[str, Any] = OPENAPI["components"]["schemas"]
CLOSE_SCHEMA: dict[str, Any] = SCHEMAS["CloseRequest"]
CLOSE_FIELDS: frozenset[str] = frozenset(CLOSE_SCHEMA["properties"])
REQUIRED: tuple[str, ...] = tuple(CLOSE_SCHEMA["required"])
UNWIND_FIELDS: frozenset[str] = frozenset(SCHEMAS["UnwindRequest"]["properties"])
LIQUIDITY_QUERY: frozenset[str] = frozenset(
    p["name"]
    for p in OPENAPI["paths"]["/v1/liquidity/{symbol}"]["get"]["parameters"]
    if p["in"] == "query"
)
VENUES = ("alpha", "bravo", "charlie")
LEAKS = ("Traceback", 'File "', "site-packages", "router/")

INJECTION = [
    "'; DROP TABLE closes; --",
    '" OR 1=1 --',
    "{{7*7}}",
    "${7*7}",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "%00",
    "%s%s%s%n",
    "\u202ebtc\u202c",
    "\u200fBTC",
    "BTC\x00",
    "\x00",
    "🚀💀🔥",
    "ＢＴＣ",
    "",
    " ",
    "\n",
    "A" * 5000,
]
HOSTILE_NUMBERS: list[Any] = [
    "-1",
    "0",
    "-0",
    "0.000",
    "NaN",
    "nan",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e400",
    "-1e400",
    "1e999999999999999999999",
    "0." + "0" * 39 + "1",
    "1." + "1" * 40,
    "1,5",
    "0x10",
    "1_000",
    "one",
    -1,
    0,
    10**60,
    -(10**60),
    True,
    False,
    None,
    [],
    {},
    ["1"],
    {"value": "1"},
    *INJECTION,
]
# Raw JSON fragments that ``json.dumps`` cannot produce.
RAW_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "0." + "0" * 39 + "1",
    "9" * 5000,
    "1" + "0" * 4400,
]


# A request line over 8 KiB is refused by aiohttp's HTTP parser (a plain-text 400)
# before the application runs; query strings stay under it (see test_huge_request_line).
SHORT_INJECTION = [s[:1000] for s in INJECTION]


def _text(*, short: bool = False) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(SHORT_INJECTION if short else INJECTION), st.text(max_size=40))


def _hostile(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(values), _text(), st.integers(), st.floats())


def _not(strategy: st.SearchStrategy[Any], *valid: Any) -> st.SearchStrategy[Any]:
    return strategy.filter(lambda v: isinstance(v, bool) or v not in valid)


PLAIN_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]{1,18})?", re.ASCII)


def _invalid_fraction(value: Any) -> bool:
    """Not a decimal string in [0, 1] (numbers travel as plain ASCII decimal strings)."""
    if not isinstance(value, str) or PLAIN_DECIMAL.fullmatch(value) is None:
        return True
    return not Decimal(value) <= 1


# What makes each field of a CloseRequest invalid (never a valid value of it).
INVALID_CLOSE: dict[str, st.SearchStrategy[Any]] = {
    "symbol": st.one_of(
        st.sampled_from(["ETH", "DOGE", "ZZZZ", "XRP2", "B", "btc/usdt", None, 1, [], {}]),
        st.sampled_from(INJECTION),
        st.text(min_size=13, max_size=30),
    ),
    "side": _not(_hostile(["SELL", "Buy", "short", "long", None, 0, 1]), "sell", "buy"),
    "quantity": st.one_of(
        st.sampled_from(HOSTILE_NUMBERS),
        st.integers(max_value=0),
        st.decimals(allow_nan=True, allow_infinity=True, places=25)
        .filter(lambda d: not d.is_finite() or d <= 0 or d.as_tuple().exponent < -18)
        .map(str),
    ),
    "urgency": _hostile(["1.5", "-0.1", "2", "1.0000000000001", "-1e-30"]).filter(
        _invalid_fraction
    ),
    "danger": _hostile(["1.5", "-0.1", "NaN", "Infinity"]).filter(_invalid_fraction),
    "volatility": _hostile(["1.5", "-0.1", "NaN"]).filter(
        lambda v: v is not None and _invalid_fraction(v)
    ),
    "unrealized_pnl": st.sampled_from(["-1.5", "11", "NaN", "Infinity", "1e400", "x", [], True]),
    "reason": st.one_of(
        st.sampled_from([None, 1, 1.5, True, [], {}, "\ud800", "ok \udfff", "\udc00\ud800"]),
        st.just("\u202e" * 501),
        st.just("x" * 600),
    ),
    "idempotency_key": st.one_of(
        st.sampled_from([None, 1, True, [], {}, "", "bad key", "k" * 129]),
        st.sampled_from([s for s in INJECTION if s]),
    ),
    "allow_hedge": st.sampled_from(["maybe", 2, -1, 1.5, None, [], {}, "🚀", "'; DROP TABLE"]),
    "deadline_s": st.sampled_from(["0", "-1", "86401", "NaN", "Infinity", "1e400", "x", [], True]),
    "max_slippage": st.sampled_from(["0", "1", "-0.1", "1.5", "NaN", "Infinity", "x", True]),
    "venues": st.one_of(
        st.sampled_from(
            [[], ["alpha", "alpha"], ["delta"], ["alpha", "ALPHA"], "alpha", 1, {}, [None]]
        ),
        st.lists(_text().filter(lambda v: v not in VENUES), min_size=1, max_size=3),
    ),
    "quote": st.one_of(
        st.sampled_from(["EUR", "BTC", "USDT:USDT", "USDT/BTC", None, 1, []]),
        st.sampled_from(INJECTION),
    ),
}
# A refused quote may be named as the quote or as the symbol the venues do not list.
ALSO_NAMED = {"quote": {"symbol"}, "symbol": {"quote"}}


def _valid_close() -> st.SearchStrategy[dict[str, Any]]:
    decimal_places = st.integers(min_value=0, max_value=8)
    quantity = st.one_of(
        st.just("all"),
        st.builds(
            lambda units, places: format(Decimal(units).scaleb(-places), "f"),
            st.integers(min_value=1, max_value=5 * 10**8),
            decimal_places,
        ),
    )
    fraction = st.decimals(min_value=0, max_value=1, places=4).map(lambda d: str(abs(d)))
    optional = st.fixed_dictionaries(
        {},
        optional={
            "urgency": fraction,
            "danger": fraction,
            "unrealized_pnl": st.one_of(st.none(), st.sampled_from(["-0.25", "0", "1.5"])),
            "volatility": st.one_of(st.none(), fraction),
            "reason": st.one_of(st.sampled_from(INJECTION[:15]), st.text(max_size=100)),
            "allow_hedge": st.booleans(),
            "deadline_s": st.one_of(st.none(), st.sampled_from(["30", "600", "120"])),
            "max_slippage": st.one_of(st.none(), st.sampled_from(["0.01", "0.1", "0.5"])),
            "venues": st.one_of(
                st.none(), st.lists(st.sampled_from(VENUES), min_size=1, max_size=3, unique=True)
            ),
            "quote": st.sampled_from(["USDT", "usdt"]),
        },
    )
    required = st.fixed_dictionaries(
        {
            "symbol": st.sampled_from(["BTC", "btc", "Btc"]),
            "side": st.sampled_from(["sell", "buy"]),
            "quantity": quantity,
            "idempotency_key": st.from_regex(r"\A[A-Za-z0-9._:\-]{1,128}\Z"),
        }
    )
    return st.builds(lambda r, o: {**r, **o}, required, optional)


@st.composite
def invalid_close(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """A schema-shaped close body with at least one invalid field, and the fields broken."""
    body = draw(_valid_close())
    broken = draw(st.sets(st.sampled_from(sorted(INVALID_CLOSE)), min_size=1, max_size=3))
    for name in broken:
        body[name] = draw(INVALID_CLOSE[name])
    if draw(st.booleans()):
        missing = draw(st.sampled_from(REQUIRED))
        body.pop(missing, None)
        broken.add(missing)
    if draw(st.booleans()):
        extra = draw(_text().filter(lambda k: k not in CLOSE_FIELDS))
        body[extra] = draw(_hostile(HOSTILE_NUMBERS))
        broken.add(extra)
    return body, broken


def _nested(depth: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * depth + closer * depth).encode()


@st.composite
def malformed(draw: st.DrawFn) -> bytes:
    """Raw bodies that are not a JSON object, or not one JSON can read unambiguously."""
    kind = draw(st.integers(min_value=0, max_value=7))
    if kind == 0:
        return draw(st.binary(min_size=1, max_size=200))
    if kind == 1:
        whole = json.dumps(draw(_valid_close())).encode()
        return whole[: draw(st.integers(min_value=1, max_value=len(whole) - 1))]
    if kind == 2:
        top = draw(
            st.one_of(
                st.lists(st.integers(), max_size=3),
                st.integers(),
                st.text(max_size=20),
                st.none(),
                st.booleans(),
                st.lists(_valid_close(), min_size=1, max_size=2),
            )
        )
        return json.dumps(top).encode()
    if kind == 3:
        body = draw(_valid_close())
        key = draw(st.sampled_from(sorted(body)))
        pairs = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in body.items()]
        pairs.append(f"{json.dumps(key)}: {json.dumps(body[key])}")
        return ("{" + ", ".join(draw(st.permutations(pairs))) + "}").encode()
    if kind == 4:
        depth = draw(st.sampled_from([100, 1000, 5000, 20000, 30000]))
        if draw(st.booleans()):
            return _nested(depth)
        inner = _nested(depth).decode()
        return ('{"symbol": "BTC", "side": "sell", "quantity": "1", "venues": ' + inner).encode()
    if kind == 5:
        depth = draw(st.sampled_from([1000, 20000]))
        return ('{"a":' * depth + "1" + "}" * depth).encode()
    if kind == 6:
        body = draw(_valid_close())
        field = draw(st.sampled_from(["quantity", "urgency", "deadline_s", "max_slippage"]))
        body[field] = "@@RAW@@"
        numbers = RAW_NUMBERS if field == "quantity" else RAW_NUMBERS[:5] + RAW_NUMBERS[6:]
        return json.dumps(body).replace('"@@RAW@@"', draw(st.sampled_from(numbers))).encode()
    encoding = draw(st.sampled_from(["utf-16", "utf-32", "latin-1"]))
    body = draw(_valid_close())
    body["reason"] = "€ é ñ 🚀" if encoding != "latin-1" else "é\xff"
    return json.dumps(body, ensure_ascii=False).encode(encoding, errors="replace")


async def _refused(response: Any, api: Api) -> dict[str, Any]:
    """The common properties of a refusal: 4xx, a JSON error, no internals, no order."""
    text = await response.text()
    assert 400 <= response.status < 500, f"{response.status}: {text[:300]}"
    for leak in LEAKS:
        assert leak not in text, text[:300]
    body = json.loads(text)
    assert isinstance(body, dict)
    assert isinstance(body["error"], str)
    assert body["error"]
    assert api.orders_on_venues() == 0
    return body


def _named(body: dict[str, Any]) -> set[str]:
    names = {f["field"] for f in body.get("fields", [])}
    if "field" in body:
        names.add(body["field"])
    return names


@FUZZ
@given(case=invalid_close())
async def test_invalid_close_bodies_are_refused(
    api: Api, case: tuple[dict[str, Any], set[str]]
) -> None:
    body, broken = case
    response = await api.post("/v1/closes", data=json.dumps(body), headers=_json())
    answer = await _refused(response, api)
    if response.status == 422:
        also = set().union(*(ALSO_NAMED.get(f, set()) for f in broken))
        assert _named(answer) & (broken | also), (answer, broken)
    else:
        assert response.status in (400, 413), answer
    assert not api.state.pending
    assert not api.state.tasks


@FUZZ
@given(raw=malformed())
async def test_malformed_close_bodies_are_refused(api: Api, raw: bytes) -> None:
    response = await api.post("/v1/closes", data=raw, headers=_json())
    answer = await _refused(response, api)
    assert response.status in (400, 413, 422), answer
    if response.status == 422:
        assert _named(answer), answer
    assert not api.state.pending
    assert not api.state.tasks


@FUZZ
@given(
    hedge_id=st.one_of(st.integers(), _text().filter(bool), st.sampled_from(["١", " 1 ", "1_0"])),
    body=st.one_of(
        st.fixed_dictionaries({}, optional={"quantity": st.sampled_from(HOSTILE_NUMBERS)}),
        st.dictionaries(
            _text().filter(lambda k: k not in UNWIND_FIELDS),
            _hostile(HOSTILE_NUMBERS),
            min_size=1,
            max_size=2,
        ),
    ).map(lambda d: json.dumps(d).encode()),
    raw=st.one_of(st.none(), malformed()),
)
async def test_unwind_bodies_are_refused(
    api: Api, hedge_id: int | str, body: bytes, raw: bytes | None
) -> None:
    path = f"/v1/hedges/{quote(str(hedge_id), safe='')}/unwind"
    response = await api.post(path, data=raw if raw is not None else body, headers=_json())
    answer = await _refused(response, api)
    if ID.fullmatch(str(hedge_id)) is None:
        # the path is read first: an id outside the grammar is refused whatever the body
        # (404 when the path does not even reach the route, e.g. an id with a "/")
        assert response.status in (404, 422), answer
        if response.status == 422:
            assert _named(answer) == {"hedge_id"}, answer
    elif raw is None:
        # there are no hedges: a body the API reads through is an unknown hedge
        assert response.status in (400, 404, 422), answer
        if response.status == 422:
            assert _named(answer) & set(json.loads(body)), answer


@FUZZ
@given(close_id=_text().filter(bool), raw=st.one_of(st.none(), malformed()))
async def test_cancel_of_unknown_closes_is_refused(
    api: Api, close_id: str, raw: bytes | None
) -> None:
    path = f"/v1/closes/{quote(close_id, safe='')}/cancel"
    response = await api.post(path, data=raw if raw is not None else b"", headers=_json())
    answer = await _refused(response, api)
    assert response.status in (404, 405), answer


_QUERY_VALID: dict[str, st.SearchStrategy[str]] = {
    "side": st.sampled_from(["sell", "buy"]),
    "danger": st.decimals(min_value=0, max_value=1, places=3).map(lambda d: str(abs(d))),
    "volatility": st.decimals(min_value=0, max_value=1, places=3).map(lambda d: str(abs(d))),
    "has_position": st.sampled_from(["true", "false", "1", "0"]),
    "quote": st.sampled_from(["USDT", "usdt"]),
}
_QUERY_INVALID: dict[str, st.SearchStrategy[str]] = {
    "side": _not(_text(short=True), "sell", "buy"),
    "danger": st.one_of(
        st.sampled_from([str(v) for v in HOSTILE_NUMBERS if not isinstance(v, (bool, int))]),
        _text(short=True),
    ).filter(_invalid_fraction),
    "volatility": st.sampled_from(["1.5", "-0.1", "NaN", "Infinity", "1e400", "1e999999999999"]),
    "has_position": _text(short=True).filter(lambda v: v not in ("0", "1", "true", "false")),
    "quote": st.one_of(
        st.sampled_from(["EUR", "USDT:USDT", "USDT/USDT", "USDT:USDT:USDT"]),
        st.sampled_from([s for s in SHORT_INJECTION if s.strip()]),
    ),
}


@st.composite
def liquidity_query(draw: st.DrawFn) -> tuple[str, dict[str, str], set[str]]:
    """A symbol and a query string, and which of them are invalid."""
    broken: set[str] = set()
    symbol = draw(st.sampled_from(["BTC", "btc"]))
    if draw(st.booleans()):
        symbol = draw(
            st.one_of(
                st.sampled_from(["ETH", "ZZZZ", "B", "BTC/USDT", "BTC%00"]),
                st.sampled_from([s for s in SHORT_INJECTION if s.strip() and "/" not in s]),
                st.text(min_size=1, max_size=20).filter(lambda s: s.upper() not in ("BTC",)),
            )
        )
        broken.add("symbol")
    query: dict[str, str] = {}
    for name in sorted(LIQUIDITY_QUERY):
        choice = draw(st.sampled_from(["absent", "valid", "invalid"]))
        if choice == "valid":
            query[name] = draw(_QUERY_VALID[name])
        elif choice == "invalid":
            query[name] = draw(_QUERY_INVALID[name])
            broken.add(name)
    if draw(st.booleans()):
        query[draw(_text(short=True).filter(lambda k: k not in LIQUIDITY_QUERY))] = draw(
            _text(short=True)
        )
    return symbol, query, broken


@FUZZ
@given(case=liquidity_query())
async def test_liquidity_queries(api: Api, case: tuple[str, dict[str, str], set[str]]) -> None:
    symbol, query, broken = case
    path = f"/v1/liquidity/{quote(symbol, safe='')}?{urlencode(query)}"
    response = await api.get(path)
    if not broken:
        assert response.status == 200, await response.text()
        assert (await response.json())["symbol"] == "BTC/USDT"
        return
    answer = await _refused(response, api)
    if response.status == 422:
        assert _named(answer) & (broken | {"symbol"} if "quote" in broken else broken), answer
    elif response.status == 404:
        assert broken & {"symbol", "quote"}, answer


@dataclass
class Accepting:
    """An engine that journals each close it is given and states it STRANDED at once,
    without trading: the valid-body property tests the API's acceptance, not the engine."""

    journal: Journal
    requests: list[CloseRequest] = field(default_factory=list)

    async def close(self, request: CloseRequest, **_: Any) -> CloseResult:
        self.requests.append(request)
        quantity = Decimal(1) if request.quantity == "all" else request.quantity
        view, _created = await self.journal.create_close(
            NewClose(
                idempotency_key=request.idempotency_key,
                symbol=request.spot_symbol,
                side=request.side,
                quantity=quantity,
                request=request.model_dump(mode="json"),
            )
        )
        await self.journal.finish_close(
            view.id,
            "STRANDED",
            filled_qty=Decimal(0),
            hedged_qty=Decimal(0),
            residual_qty=quantity,
            reason="accepted by the fuzzer's engine",
        )
        zero = Decimal(0)
        return CloseResult(
            view.id, "STRANDED", "fuzz", request.side, quantity, zero, zero, quantity,
            None, None, None, zero, 0.0, 0, 0,
        )  # fmt: skip


@settings(FUZZ, max_examples=max(EXAMPLES // 2, 10))
@given(body=_valid_close())
async def test_valid_close_bodies_are_accepted(api: Api, body: dict[str, Any]) -> None:
    engine = Accepting(api.world.journal)
    api.state.engine = engine  # type: ignore[assignment]
    response = await api.post("/v1/closes", data=json.dumps(body), headers=_json())
    text = await response.text()
    answer = json.loads(text)
    if response.status == 409:
        # an earlier example used the key for a different request
        earlier = await api.world.journal.close_by_key(body["idempotency_key"])
        assert earlier is not None, text
        assert answer["close_id"] == earlier.id
        assert CloseRequest.from_journal(earlier.request) != CloseRequest.model_validate(body)
        return
    assert response.status in (200, 202), text
    finished = await api.finished(answer["close_id"])
    assert finished["idempotency_key"] == body["idempotency_key"]
    if response.status == 202:
        assert [r.idempotency_key for r in engine.requests] == [body["idempotency_key"]]
        assert engine.requests[0].symbol == "BTC"
        assert engine.requests[0].reason == body.get("reason", "")
    assert api.orders_on_venues() == 0


async def test_a_close_that_finishes_during_the_lookup_is_found(api: Api) -> None:
    """A close journaled and finished while the API's lookup of its key was in flight
    is found, not reported as "could not be started" (found by the valid-body fuzz)."""
    api.state.engine = Accepting(api.world.journal)  # type: ignore[assignment]
    journal = api.world.journal
    real = journal.close_by_key
    lookups = 0

    async def stale(key: str) -> Any:
        nonlocal lookups
        lookups += 1
        if lookups == 2:  # the first wait_for_id lookup: read before the close committed
            [task] = api.state.pending.values()
            before = await real(key)
            await asyncio.wait_for(asyncio.shield(task), timeout=5)
            return before
        return await real(key)

    journal.close_by_key = stale  # type: ignore[method-assign]
    body = {"symbol": "BTC", "side": "sell", "quantity": "1", "idempotency_key": "race-1"}
    response = await api.post("/v1/closes", json=body)
    assert response.status == 202, await response.text()
    assert (await response.json())["close_id"] is not None
    assert lookups >= 3


async def test_huge_request_line_is_refused(api: Api) -> None:
    response = await api.get(f"/v1/liquidity/BTC?side={'A' * 9000}")
    assert response.status == 400
    assert "Traceback" not in await response.text()
    assert api.orders_on_venues() == 0


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}
