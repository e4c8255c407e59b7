"""An ``Authorization`` header that is not printable ASCII is refused like a wrong token:
401 with a challenge, never a 500, sent as raw bytes through the real server."""

from __future__ import annotations

import asyncio

import pytest

from router.service.auth import TokenError, parse_tokens
from tests.service.conftest import READ, Api


async def raw_get(api: Api, path: str, authorization: bytes) -> tuple[int, bytes, bytes]:
    """Status line code, headers and body of a GET sent byte for byte."""
    server = api.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
            b"Authorization: " + authorization + b"\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer \xff\xfe" + READ.encode(),
        b"Bearer caf\xe9-0123456789abcdef",
        "Bearer café-0123456789abcdef".encode(),
    ],
    ids=["invalid-utf8", "latin1", "utf8-non-ascii"],
)
async def test_non_ascii_authorization_is_401(api: Api, authorization: bytes) -> None:
    status, head, body = await raw_get(api, "/v1/venues", authorization)
    assert status == 401
    assert b'WWW-Authenticate: Bearer realm="router"' in head
    assert b'"unauthorized"' in body


async def test_every_401_carries_the_challenge(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
        response = await api.client.get("/v1/venues", headers=headers)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="router"'


async def test_valid_token_still_reads(api: Api) -> None:
    status, _, _ = await raw_get(api, "/v1/venues", b"Bearer " + READ.encode())
    assert status == 200


def test_configured_tokens_must_be_printable_ascii() -> None:
    with pytest.raises(TokenError, match="printable ASCII"):
        parse_tokens("caf\u00e9-0123456789abcdef:read")
