"""Real answers of the API checked against docs/openapi.yaml (JSON, which is YAML).

No schema library is a dependency, so a small validator covers the subset the document
uses: ``$ref``, ``type`` (with lists), ``required``, ``properties``,
``additionalProperties: false``, ``items``, ``enum`` and ``pattern``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from router.service.app import build_app
from tests.service.conftest import READ, Api, close_body

SPEC: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "docs" / "openapi.yaml").read_text(encoding="utf-8")
)
TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = SPEC
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _is(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, TYPES[name])


def check(value: Any, schema: dict[str, Any], where: str = "$") -> None:
    schema = _resolve(schema)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        assert any(_is(value, n) for n in names), f"{where}: {value!r} is not {names}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, str) and "pattern" in schema:
        assert re.search(schema["pattern"], value), f"{where}: {value!r} !~ {schema['pattern']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: missing {key}"
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(properties)
            assert not extra, f"{where}: unexpected {extra}"
        for key, item in value.items():
            if key in properties:
                check(item, properties[key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            check(item, schema["items"], f"{where}[{index}]")


async def conforms(response: Any, path: str, method: str) -> Any:
    """Check an answer against the documented response for its status; return its body."""
    operation = SPEC["paths"][path][method]
    documented = operation["responses"].get(str(response.status))
    assert documented is not None, f"{method} {path}: status {response.status} not documented"
    content = documented["content"]
    if "application/json" in content:
        body = await response.json()
        check(body, content["application/json"]["schema"], f"{method} {path} {response.status}")
        return body
    return await response.text()


def test_every_route_is_documented(api: Api) -> None:
    routes = {
        (route.resource.canonical, route.method.lower())
        for route in build_app(api.state).router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(path, method) for path, ops in SPEC["paths"].items() for method in ops}
    assert routes == documented


def test_close_request_schema_matches_the_model() -> None:
    from router.engine.request import CloseRequest

    schema = SPEC["components"]["schemas"]["CloseRequest"]
    assert set(schema["properties"]) == set(CloseRequest.model_fields)
    required = {n for n, f in CloseRequest.model_fields.items() if f.is_required()}
    assert set(schema["required"]) == required


async def test_answers_conform(api: Api) -> None:
    accepted = await conforms(await api.post("/v1/closes", json=close_body()), "/v1/closes", "post")
    close_id = accepted["close_id"]
    await api.finished(close_id)
    close_path = "/v1/closes/{close_id}"
    await conforms(await api.get(f"/v1/closes/{close_id}"), close_path, "get")
    await conforms(await api.post("/v1/closes", json=close_body()), "/v1/closes", "post")
    await conforms(await api.get("/v1/closes/nope"), close_path, "get")
    cancel = "/v1/closes/{close_id}/cancel"
    await conforms(await api.post(f"/v1/closes/{close_id}/cancel"), cancel, "post")
    await conforms(await api.post("/v1/closes/nope/cancel"), cancel, "post")
    await conforms(await api.post(f"/v1/closes/{close_id}/cancel", token=READ), cancel, "post")
    liquidity = "/v1/liquidity/{symbol}"
    await conforms(await api.get("/v1/liquidity/BTC?has_position=true"), liquidity, "get")
    await conforms(await api.get("/v1/liquidity/BTC?danger=3"), liquidity, "get")
    await conforms(await api.get("/v1/liquidity/ETH"), liquidity, "get")
    await conforms(await api.get("/v1/hedges"), "/v1/hedges", "get")
    unwind = "/v1/hedges/{hedge_id}/unwind"
    await conforms(await api.post("/v1/hedges/7/unwind"), unwind, "post")
    await conforms(await api.post("/v1/hedges/7/unwind", json={"size": "1"}), unwind, "post")
    await conforms(await api.get("/v1/venues"), "/v1/venues", "get")
    await conforms(await api.client.get("/healthz"), "/healthz", "get")
    await conforms(await api.get("/readyz"), "/readyz", "get")
    await conforms(await api.get("/metrics"), "/metrics", "get")
    await conforms(await api.client.get("/metrics"), "/metrics", "get")
    await conforms(await api.post("/v1/closes", data=b"{"), "/v1/closes", "post")
    await conforms(await api.post("/v1/closes", json={"x": 1}), "/v1/closes", "post")
    big = close_body(reason="x" * 70_000)
    await conforms(await api.post("/v1/closes", json=big), "/v1/closes", "post")
