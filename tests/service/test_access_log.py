"""The access log, request ids and the ``Server`` header, through the real server; and
the log lines of a real ``router serve`` process on its stderr."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import READ, TRADE, Api, close_body
from tests.service.processes import ROUTER, read_line, stop

SECRET_QUERY = "query-secret-0123456789abcdef"


FIELDS = ("method", "route", "path", "status", "duration_ms", "remote", "request_id")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The access log's records as the fields they carry."""
    return [
        {"event": r.getMessage(), "level": r.levelname, **{f: getattr(r, f) for f in FIELDS}}
        for r in caplog.records
        if r.name == "router.access"
    ]


async def raw_request(api: Api, request: bytes) -> tuple[int, bytes]:
    """Status code and head of an answer to ``request`` sent byte for byte."""
    server = api.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head = answer.partition(b"\r\n\r\n")[0]
    return int(head.split(b" ", 2)[1]), head


async def test_one_line_per_request_with_route_status_and_id(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="router.access")
    ok = await api.get("/v1/venues")
    missing = await api.get("/v1/closes/cl_" + "0" * 24)
    refused = await api.client.get("/v1/hedges")
    unknown = await api.get("/nowhere")
    lines = access_lines(caplog)
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("GET", "/v1/venues", 200),
        ("GET", "/v1/closes/{close_id}", 404),
        ("GET", "/v1/hedges", 401),
        ("GET", "unmatched", 404),
    ]
    assert lines[1]["path"] == "/v1/closes/cl_" + "0" * 24
    for line, response in zip(lines, (ok, missing, refused, unknown), strict=True):
        assert line["request_id"] == response.headers["X-Request-Id"]
        assert line["remote"] == "127.0.0.1"
        assert isinstance(line["duration_ms"], float)
        assert line["duration_ms"] >= 0
        assert (line["event"], line["level"]) == ("request", "INFO")
    assert len({line["request_id"] for line in lines}) == 4


async def test_no_token_reaches_the_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await api.get(f"/v1/venues?token={SECRET_QUERY}&access_key={SECRET_QUERY}&x=1")
    await api.post("/v1/closes", json=close_body(quantity="-1"))
    await api.get("/v1/venues", token="not-a-valid-token-0123456789")
    # aiohttp's own access log is the test server's (``router serve`` turns it off; the
    # process test below reads everything ``router serve`` logs)
    ours = [r for r in caplog.records if r.name != "aiohttp.access"]
    shown = json.dumps([vars(r) for r in ours], default=str)
    shown += "".join(logging.Formatter().format(r) for r in ours)
    for secret in (READ, TRADE, SECRET_QUERY, "not-a-valid-token-0123456789", "Bearer"):
        assert secret not in shown
    assert [line["status"] for line in access_lines(caplog)] == [200, 422, 401]
    first = access_lines(caplog)[0]
    assert first["path"] == "/v1/venues?token=***&access_key=***&x=1"


async def test_a_plain_client_request_id_is_kept_and_others_replaced(api: Api) -> None:
    kept = await api.get("/v1/venues", headers={"X-Request-Id": "trace-42.a:b"})
    assert kept.headers["X-Request-Id"] == "trace-42.a:b"
    for hostile in ("x" * 65, "a b", "id\u00e9"):
        response = await api.get("/v1/venues", headers={"X-Request-Id": hostile})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])


async def test_server_header_is_router_on_every_answer(api: Api) -> None:
    answers = {
        200: await api.get("/v1/venues"),
        401: await api.client.get("/v1/venues"),
        404: await api.get("/no/such/route"),
        405: await api.client.request("DELETE", "/healthz"),
        422: await api.get("/v1/closes?limit=0"),
    }
    for status, response in answers.items():
        assert response.status == status
        assert response.headers["Server"] == "router"
        assert response.headers["X-Request-Id"]

    accepted = await (await api.post("/v1/closes", json=close_body())).json()
    await api.finished(accepted["close_id"])
    async with api.client.get(
        f"/v1/closes/{accepted['close_id']}/events", headers=api.headers(READ)
    ) as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert stream.headers["Server"] == "router"
        assert stream.headers["X-Request-Id"]
        await stream.read()


@pytest.mark.parametrize(
    "request_line",
    [b"BREW /healthz HTTP/1.1", b"GET /healthz HTTP/9.9", b"\x16\x03\x01 garbage"],
    ids=["unknown-method", "bad-version", "not-http"],
)
async def test_server_header_on_requests_the_parser_refuses(api: Api, request_line: bytes) -> None:
    status, head = await raw_request(api, request_line + b"\r\nHost: x\r\n\r\n")
    assert status == 400
    assert b"Server: router" in head.split(b"\r\n")[1:]
    assert b"aiohttp" not in head.lower()


def fetch(url: str, token: str, request_id: str) -> tuple[int, str]:
    """Status and ``Server`` header of a GET with urllib (any status)."""
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}", "X-Request-Id": request_id}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Server"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Server"]


def test_router_serve_logs_json_lines_without_tokens(tmp_path: Path) -> None:
    """A real ``router serve``: one JSON access line per request on stderr, no token."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ROUTER_")},
        "ROUTER_API_TOKENS": f"{READ}:read,{TRADE}:trade",
        "ROUTER_DATA_DIR": str(tmp_path / "data"),
    }
    log = tmp_path / "serve.log"
    with log.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            [
                *ROUTER,
                "serve",
                "--scenario",
                "calm",
                "--port",
                "0",
                "--db",
                f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        assert process.stdout is not None
        started = read_line(process, process.stdout, log)
        found = re.search(r"http://[0-9.]+:[0-9]+", started)
        assert found, started
        base = found.group(0)
        answers = [
            fetch(f"{base}/v1/venues?token={SECRET_QUERY}", token, f"t-{token[:5]}")
            for token in (READ, "wrong-token-0123456789ab")
        ]
        assert answers == [(200, "router"), (401, "router")]
    finally:
        stop(process)
    text = log.read_text(encoding="utf-8")
    for secret in (READ, TRADE, SECRET_QUERY, "wrong-token-0123456789ab"):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    access = [line for line in lines if line.get("logger") == "router.access"]
    assert [(a["route"], a["status"], a["request_id"]) for a in access] == [
        ("/v1/venues", 200, f"t-{READ[:5]}"),
        ("/v1/venues", 401, "t-wrong"),
    ]
    for line in access:
        assert line["event"] == "request"
        assert line["level"] == "info"
        assert line["timestamp"].endswith("Z")
        assert line["path"] == "/v1/venues?token=***"
