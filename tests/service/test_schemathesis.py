"""Schemathesis against the live service, driven by the document the service serves.

``router serve --scenario calm`` runs in a subprocess on loopback (simulated venues, its own
journal). The schema is the packaged document, the bytes its ``GET /openapi.json`` and
``GET /openapi.yaml`` answer (checked first; the operations are collected before the
service runs). Every operation is called with a bounded, seeded number of generated
requests, valid and invalid, under schemathesis's default checks: no 5xx, only documented
status codes, content types and headers, answers matching their schemas, a 405 with
``Allow`` for a method a path does not have, invalid data refused and valid data accepted.

What a schema cannot know about the world is pinned for the requests that claim to be
valid (see :func:`_world_of`): a close names a symbol the venues list and a quantity they
hold; every other value stays generated. Valid closes therefore start (small) closes on
the simulated venues.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from router.journal.listing import Cursor
from router.service.spec import spec_bytes
from tests.service.conftest import TOKENS, TRADE
from tests.service.processes import ROUTER, read_line, stop

EXAMPLES = 50
SEED = 20260312
SCENARIO = "calm"
URL = re.compile(r"http://[0-9.]+:[0-9]+")
CURSOR = Cursor(datetime(2026, 3, 12, tzinfo=UTC), "cl_5f0c9a1e2b7d4c3a9e8f6b21").encode()
_KEYS = itertools.count(1)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running ``router serve --scenario calm``."""
    workdir = tmp_path_factory.mktemp("live")
    log = workdir / "router.log"
    journal = f"sqlite+aiosqlite:///{workdir / 'journal.db'}"
    with log.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            [*ROUTER, "serve", "--scenario", SCENARIO, "--port", "0", "--db", journal],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, "ROUTER_API_TOKENS": TOKENS, "ROUTER_DATA_DIR": str(workdir)},
        )
    try:
        assert process.stdout is not None
        line = read_line(process, process.stdout, log)
        found = URL.search(line)
        assert found is not None, line
        yield found.group(0)
    finally:
        stop(process)


def _world_of(context: Any, case: schemathesis.Case) -> schemathesis.Case:
    """A request that claims to be valid names what the simulated world has: a close a
    listed symbol, the configured quote and venues, a quantity the venues hold and a key of
    its own (a key seen before is 200 or 409, which would hide whether the rest of the
    request was accepted); a listing page a cursor the service could have handed out."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if case.operation.label == "POST /v1/closes" and isinstance(case.body, dict):
        case.body["symbol"] = "BTC"
        case.body.pop("quote", None)
        case.body.pop("venues", None)
        case.body["quantity"] = "0.001"
        case.body["idempotency_key"] = f"fuzz-{next(_KEYS)}"
    if case.operation.label == "GET /v1/closes" and case.query and "after" in case.query:
        case.query["after"] = CURSOR
    return case


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "auth": {"openapi": {"bearer": {"bearer": TRADE}}},
            "generation": {
                "max-examples": EXAMPLES,
                "deterministic": True,
                "with-security-parameters": False,
            },
            # an event stream of a running close is read for at most 20 events or 10 s
            "request-timeout": 10,
            "max-stream-events": 20,
        }
    )


def test_the_service_serves_the_packaged_document(live: str) -> None:
    for path in ("/openapi.json", "/openapi.yaml"):
        with urllib.request.urlopen(live + path, timeout=30) as response:
            assert response.read() == spec_bytes()


schema = schemathesis.openapi.from_dict(json.loads(spec_bytes()), config=_config())
schema.hook("map_case")(_world_of)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_live_service_keeps_its_contract(case: schemathesis.Case, live: str) -> None:
    case.call_and_validate(base_url=live)
