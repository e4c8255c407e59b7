"""The OpenAPI document is the contract: one source, the parsers' grammar, valid examples,
and real answers of the API that match it.

The document ships in the package (``router/service/openapi.json``, what ``GET
/openapi.json`` serves) and ``docs/openapi.yaml`` is the same bytes. Schemas are checked
with a JSON Schema 2020-12 validator (``jsonschema_rs``, ECMA-262 patterns, formats
validated), the dialect of OpenAPI 3.1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from hypothesis import given, settings
from hypothesis import strategies as st

from router.core.decimal_text import (
    DECIMAL_PATTERN,
    ID_PATTERN,
    SIGNED_DECIMAL_PATTERN,
    NotADecimal,
    parse_decimal,
)
from router.engine.request import DECIMAL_FIELDS, CloseRequest
from router.service.app import build_app
from router.service.spec import spec_bytes
from tests.service.conftest import READ, TRADE, Api, close_body

SPEC: dict[str, Any] = json.loads(spec_bytes())
DOCS = Path(__file__).parents[2] / "docs" / "openapi.yaml"
METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` (into this document) followed."""
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def validator(schema: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    """A validator of ``schema``, whose ``$ref``s resolve in this document."""
    return jsonschema_rs.Draft202012Validator(
        {**schema, "components": SPEC["components"]}, validate_formats=True
    )


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def parameters(path: str, method: str) -> list[dict[str, Any]]:
    item = SPEC["paths"][path]
    return [resolve(p) for p in (*item.get("parameters", ()), *item[method].get("parameters", ()))]


def check(value: Any, schema: dict[str, Any], where: str) -> None:
    errors = [f"{e.instance_path}: {e.message}" for e in validator(schema).iter_errors(value)]
    assert not errors, f"{where}: {errors}"


async def conforms(response: Any, path: str, method: str) -> Any:
    """Check an answer against the documented response for its status (media type,
    required headers, body schema); return its body."""
    operation = SPEC["paths"][path][method]
    documented = operation["responses"].get(str(response.status))
    assert documented is not None, f"{method} {path}: status {response.status} not documented"
    documented = resolve(documented)
    where = f"{method.upper()} {path} {response.status}"
    for name, header in documented.get("headers", {}).items():
        value = response.headers.get(name)
        assert value is not None or not header.get("required"), f"{where}: no {name}"
        if value is not None:
            check(value, header["schema"], f"{where} {name}")
    media_type = response.content_type
    assert media_type in documented["content"], f"{where}: {media_type} not documented"
    schema = documented["content"][media_type]["schema"]
    if media_type == "application/json":
        body = await response.json()
        check(body, schema, where)
        return body
    return await response.text()


def test_docs_copy_is_the_packaged_document() -> None:
    assert DOCS.read_bytes() == spec_bytes(), (
        "docs/openapi.yaml must be a byte-for-byte copy of router/service/openapi.json"
    )


def test_every_route_is_documented(api: Api) -> None:
    routes = {
        (route.resource.canonical, route.method.lower())
        for route in build_app(api.state).router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(path, method) for path, method, _ in operations()}
    assert routes == documented


def test_close_request_schema_matches_the_model() -> None:
    schema = SCHEMAS["CloseRequest"]
    assert set(schema["properties"]) == set(CloseRequest.model_fields)
    required = {n for n, f in CloseRequest.model_fields.items() if f.is_required()}
    assert set(schema["required"]) == required


def test_the_grammars_are_the_parsers() -> None:
    assert SCHEMAS["Decimal"]["pattern"] == DECIMAL_PATTERN
    assert SCHEMAS["SignedDecimal"]["pattern"] == SIGNED_DECIMAL_PATTERN
    assert SCHEMAS["Id"]["pattern"] == ID_PATTERN
    hedge_id = parameters("/v1/hedges/{hedge_id}/unwind", "post")[0]
    assert (hedge_id["name"], hedge_id["schema"]["pattern"]) == ("hedge_id", ID_PATTERN)
    # every stored quantity an answer carries is in the grammar a request must use
    for name in ("requested", "filled", "hedged"):
        assert SCHEMAS["Close"]["properties"][name]["pattern"] == DECIMAL_PATTERN
    assert SCHEMAS["Close"]["properties"]["residual"]["pattern"] == SIGNED_DECIMAL_PATTERN
    for name in ("unwound", "open"):
        assert SCHEMAS["Unwound"]["properties"][name]["pattern"] == DECIMAL_PATTERN


# Every decimal a request carries, where its pattern is, and the range the service
# accepts: (signed, low, high, low included, high included), None for no bound.
Range = tuple[bool, Decimal | None, Decimal | None, bool, bool]
FRACTION: Range = (False, Decimal(0), Decimal(1), True, True)
POSITIVE: Range = (False, Decimal(0), None, False, False)
CLOSE = SCHEMAS["CloseRequest"]["properties"]
RANGES: dict[str, tuple[dict[str, Any], Range]] = {
    "quantity": (CLOSE["quantity"]["anyOf"][0], POSITIVE),
    "urgency": (CLOSE["urgency"], FRACTION),
    "danger": (CLOSE["danger"], FRACTION),
    "volatility": (CLOSE["volatility"], FRACTION),
    "unrealized_pnl": (CLOSE["unrealized_pnl"], (True, Decimal(-1), Decimal(10), True, True)),
    "deadline_s": (CLOSE["deadline_s"], (False, Decimal(0), Decimal(86400), False, True)),
    "max_slippage": (CLOSE["max_slippage"], (False, Decimal(0), Decimal(1), False, False)),
    "unwind quantity": (SCHEMAS["UnwindRequest"]["properties"]["quantity"], POSITIVE),
    **{
        f"liquidity {p['name']}": (p["schema"], FRACTION)
        for p in parameters("/v1/liquidity/{symbol}", "get")
        if p["name"] in ("danger", "volatility")
    },
}


def test_every_request_decimal_has_its_range_pattern() -> None:
    assert {name for name in RANGES if " " not in name} == set(DECIMAL_FIELDS)
    assert {name for name in RANGES if name.startswith("liquidity")} == {
        "liquidity danger",
        "liquidity volatility",
    }
    assert CLOSE["quantity"]["anyOf"][1] == {"type": "string", "const": "all"}


def _accepted(text: str, bounds: Range) -> bool:
    """What the service accepts: the grammar, then the range."""
    signed, low, high, low_in, high_in = bounds
    try:
        value = parse_decimal(text, signed=signed)
    except NotADecimal:
        return False
    if low is not None and (value < low or (value == low and not low_in)):
        return False
    return high is None or value < high or (value == high and high_in)


_BODY = DECIMAL_PATTERN.removeprefix("^").removesuffix("$")
DECIMAL_TEXT = st.one_of(
    st.from_regex(f"-?{_BODY}", fullmatch=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(lambda d: format(d, "f")),
    st.decimals(min_value=-2, max_value=2, places=20).map(lambda d: format(d, "f")),
    st.sampled_from(["0", "1", "10", "86400", "86400.0", "86400.01", "-1", "-1.0", "-0", "1.0"]),
    st.text(alphabet="0123456789.-+e_ \n١１", max_size=12),
)


@cache
def _ecma(pattern: str) -> jsonschema_rs.Draft202012Validator:
    """The pattern as a JSON Schema validator reads it (ECMA-262)."""
    return validator({"type": "string", "pattern": pattern})


@settings(max_examples=400, deadline=None)
@given(text=DECIMAL_TEXT)
def test_each_range_pattern_accepts_exactly_what_the_service_accepts(text: str) -> None:
    for name, (schema, bounds) in RANGES.items():
        pattern = schema["pattern"]
        expected = _accepted(text, bounds)
        assert (re.fullmatch(pattern, text) is not None) == expected, (name, text)
        assert _ecma(pattern).is_valid(text) == expected, (name, text, "ECMA-262")


def _examples() -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """Every example in the document with the schema it illustrates."""
    for path, method, operation in operations():
        where = f"{method.upper()} {path}"
        for parameter in parameters(path, method):
            if "example" in parameter:
                yield f"{where} {parameter['name']}", parameter["example"], parameter["schema"]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            assert body.get("examples"), f"{where}: request body without examples"
            for name, example in body["examples"].items():
                yield f"{where} body {name}", example["value"], body["schema"]
        for status, response in operation["responses"].items():
            for media_type, content in resolve(response)["content"].items():
                assert "example" in content, f"{where} {status} {media_type}: no example"
                if media_type == "application/json":
                    yield f"{where} {status}", content["example"], content["schema"]
    for name, schema in SCHEMAS.items():
        for example in schema.get("examples", ()):
            yield f"schema {name}", example, schema


def test_every_example_is_valid() -> None:
    checked = 0
    for where, example, schema in _examples():
        check(example, schema, where)
        checked += 1
    assert checked > 50


async def test_the_service_serves_the_document_without_a_token(api: Api) -> None:
    for path, media_type in (
        ("/openapi.json", "application/json"),
        ("/openapi.yaml", "application/yaml"),
    ):
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
            response = await api.client.get(path, headers=headers)
            assert response.status == 200
            assert response.content_type == media_type
            assert await response.read() == spec_bytes()
        await conforms(await api.client.get(path), path, "get")


async def test_a_method_a_path_does_not_have_is_405_with_allow(api: Api) -> None:
    response = await api.client.delete("/v1/closes", headers=api.headers(TRADE))
    assert response.status == 405
    assert set(response.headers["Allow"].split(",")) >= {"GET", "POST"}
    assert await response.json() == {"error": "method not allowed"}
    response = await api.client.put("/v1/hedges/3/unwind", headers=api.headers(TRADE))
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    # without a token the method is not revealed: 401 with its challenge first
    response = await api.client.delete("/v1/closes")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="router"'


async def test_answers_conform(api: Api) -> None:
    closes = "/v1/closes"
    accepted = await conforms(await api.post(closes, json=close_body()), closes, "post")
    assert accepted["existing"] is False
    close_id = accepted["close_id"]
    await api.finished(close_id)
    close_path = "/v1/closes/{close_id}"
    await conforms(await api.get(f"/v1/closes/{close_id}"), close_path, "get")
    again = await conforms(await api.post(closes, json=close_body()), closes, "post")
    assert (again["close_id"], again["existing"]) == (close_id, True)
    other = close_body(quantity="1")
    conflict = await conforms(await api.post(closes, json=other), closes, "post")
    assert conflict["close_id"] == close_id
    listed = await conforms(await api.get("/v1/closes?limit=1&outcome=FLAT"), closes, "get")
    assert [c["close_id"] for c in listed["closes"]] == [close_id]
    await conforms(await api.get("/v1/closes?limit=0"), closes, "get")
    await conforms(await api.get("/v1/closes/nope"), close_path, "get")
    events = "/v1/closes/{close_id}/events"
    streamed = await conforms(await api.get(f"/v1/closes/{close_id}/events"), events, "get")
    assert "event: outcome" in streamed
    cancel = "/v1/closes/{close_id}/cancel"
    await conforms(await api.post(f"/v1/closes/{close_id}/cancel"), cancel, "post")
    await conforms(await api.post("/v1/closes/nope/cancel"), cancel, "post")
    await conforms(await api.post(f"/v1/closes/{close_id}/cancel", token=READ), cancel, "post")
    liquidity = "/v1/liquidity/{symbol}"
    await conforms(await api.get("/v1/liquidity/BTC?has_position=true"), liquidity, "get")
    await conforms(await api.get("/v1/liquidity/BTC?danger=3"), liquidity, "get")
    await conforms(await api.get("/v1/liquidity/ETH"), liquidity, "get")
    await conforms(await api.get("/v1/hedges"), "/v1/hedges", "get")
    refused = await conforms(await api.get("/v1/hedges?open=0.41"), "/v1/hedges", "get")
    assert [f["field"] for f in refused["fields"]] == ["open"]
    unwind = "/v1/hedges/{hedge_id}/unwind"
    await conforms(await api.post("/v1/hedges/7/unwind"), unwind, "post")
    await conforms(await api.post("/v1/hedges/07/unwind"), unwind, "post")
    await conforms(await api.post("/v1/hedges/7/unwind", json={"size": "1"}), unwind, "post")
    await conforms(await api.get("/v1/venues"), "/v1/venues", "get")
    await conforms(await api.client.get("/healthz"), "/healthz", "get")
    await conforms(await api.get("/readyz"), "/readyz", "get")
    await conforms(await api.get("/metrics"), "/metrics", "get")
    await conforms(await api.client.get("/metrics"), "/metrics", "get")
    await conforms(await api.post(closes, data=b"{"), closes, "post")
    await conforms(await api.post(closes, json={"x": 1}), closes, "post")
    number = await conforms(await api.post(closes, json=close_body(quantity=1)), closes, "post")
    assert [f["field"] for f in number["fields"]] == ["quantity"]
    big = close_body(reason="x" * 70_000)
    await conforms(await api.post(closes, json=big), closes, "post")
