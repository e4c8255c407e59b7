"""Request parameters and Binance's HMAC-SHA256 request signing, checked as the venue does.

The signed payload is the query string followed by the request body, both without
the ``signature`` parameter; the signature is the hex HMAC-SHA256 of that payload
with the account's secret. ``timestamp`` must be within ``recvWindow`` (default
5,000 ms, at most 60,000) before the server's time and at most 1,000 ms after it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from router.sim import errors

_SIGNATURE_RE = re.compile(r"(^|&)signature=([^&]*)")
DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
_API_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret: str


def parse_params(query: str, body: str) -> dict[str, str]:
    """All parameters of a request.

    A parameter sent in both the query string and the body takes the query string's
    value, as Binance documents; one sent twice in the same place is malformed (-1101).
    """
    params: dict[str, str] = {}
    for source in (body, query):
        seen: set[str] = set()
        for key, value in parse_qsl(source, keep_blank_values=True):
            if key in seen:
                raise errors.ApiError(-1101, "Duplicate values for a parameter detected.")
            seen.add(key)
            params[key] = value
    return params


def _strip_signature(raw: str) -> tuple[str, str | None]:
    match = _SIGNATURE_RE.search(raw)
    if match is None:
        return raw, None
    start, end = match.span()
    stripped = raw[:start] + raw[end:]
    if match.group(1) == "" and stripped.startswith("&"):
        stripped = stripped[1:]
    return stripped, match.group(2)


def verify_signed(
    *,
    api_key: str | None,
    query: str,
    body: str,
    params: dict[str, str],
    credentials: Credentials,
    server_ms: Callable[[], int],
) -> None:
    """Authenticate a SIGNED request or raise the answer Binance gives."""
    if not api_key or not _API_KEY_RE.match(api_key):
        raise errors.bad_api_key_format()
    if not hmac.compare_digest(api_key, credentials.api_key):
        raise errors.invalid_api_key()
    raw_timestamp = params.get("timestamp")
    if not raw_timestamp:
        raise errors.mandatory("timestamp")
    if not raw_timestamp.isdigit():
        raise errors.illegal_chars("timestamp", "^[0-9]{1,20}$")
    recv_window = DEFAULT_RECV_WINDOW
    raw_window = params.get("recvWindow")
    if raw_window is not None:
        if not raw_window.isdigit():
            raise errors.illegal_chars("recvWindow", "^[0-9]{1,20}$")
        recv_window = int(raw_window)
        if recv_window > MAX_RECV_WINDOW:
            raise errors.recv_window_too_large()
    stripped_query, query_signature = _strip_signature(query)
    stripped_body, body_signature = _strip_signature(body)
    signature = query_signature or body_signature
    if not signature:
        raise errors.mandatory("signature")
    payload = stripped_query + stripped_body
    expected = hmac.new(credentials.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise errors.bad_signature()
    now = server_ms()
    timestamp = int(raw_timestamp)
    if timestamp > now + 1000:
        raise errors.timestamp_ahead()
    if now - timestamp > recv_window:
        raise errors.timestamp_outside_window()


def sign(query: str, secret: str) -> str:
    """The signature a client appends (used by the simulator's own benchmark client)."""
    return hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
