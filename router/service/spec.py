"""``GET /openapi.json`` and ``GET /openapi.yaml``: the service's own OpenAPI document.

The document ships inside the package (``router/service/openapi.json``, the one source;
``docs/openapi.yaml`` is a byte-identical copy). It is JSON, which is also YAML, so both
routes answer the same bytes under their own media type. No token is needed.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from aiohttp import web

SPEC_FILE = "openapi.json"
JSON_PATH = "/openapi.json"
YAML_PATH = "/openapi.yaml"


@cache
def spec_bytes() -> bytes:
    """The OpenAPI document as packaged (read once)."""
    return files(__package__).joinpath(SPEC_FILE).read_bytes()


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=spec_bytes(), content_type="application/json", charset="utf-8")


async def openapi_yaml(request: web.Request) -> web.Response:
    return web.Response(body=spec_bytes(), content_type="application/yaml", charset="utf-8")
