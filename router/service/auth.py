"""Bearer-token authentication with two scopes: ``read`` and ``trade``.

Tokens come from ``ROUTER_API_TOKENS`` (``token:scope,token2:scope``) or from the file
named by ``ROUTER_API_TOKENS_FILE`` (the same entries, separated by commas or new
lines). A ``trade`` token may also read. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

Scope = Literal["read", "trade"]
TOKENS_ENV = "ROUTER_API_TOKENS"
TOKENS_FILE_ENV = "ROUTER_API_TOKENS_FILE"
MIN_TOKEN_LENGTH = 16


class TokenError(ValueError):
    """The token configuration is malformed (the message never contains a token)."""


def parse_tokens(text: str) -> dict[str, Scope]:
    """Parse ``token:scope`` entries separated by commas or new lines."""
    tokens: dict[str, Scope] = {}
    entries = [e.strip() for line in text.splitlines() for e in line.split(",")]
    for number, entry in enumerate((e for e in entries if e), start=1):
        token, sep, scope = entry.rpartition(":")
        if not sep or not token:
            raise TokenError(f"token entry {number} is not token:scope")
        if scope not in ("read", "trade"):
            raise TokenError(f"token entry {number} has scope {scope!r}, not read or trade")
        if not token.isascii() or not token.isprintable() or " " in token:
            raise TokenError(f"token entry {number} must be printable ASCII without spaces")
        if len(token) < MIN_TOKEN_LENGTH:
            raise TokenError(f"token entry {number} is shorter than {MIN_TOKEN_LENGTH} characters")
        tokens[token] = "trade" if scope == "trade" else "read"
    return tokens


def load_tokens(environ: Mapping[str, str] | None = None) -> dict[str, Scope]:
    """Tokens from the environment variable, else from the secrets file it names."""
    env = os.environ if environ is None else environ
    inline = env.get(TOKENS_ENV, "")
    if inline.strip():
        return parse_tokens(inline)
    path = env.get(TOKENS_FILE_ENV)
    if path:
        return parse_tokens(Path(path).read_text(encoding="utf-8"))
    return {}


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if well formed: printable
    ASCII only (a header that is not, such as undecodable bytes, presents no token)."""
    if not header or not header.isascii() or not header.isprintable():
        return None
    kind, _, value = header.partition(" ")
    if kind.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def scope_of(presented: str | None, tokens: Mapping[str, Scope]) -> Scope | None:
    """The scope of the presented token, comparing against every token in constant time."""
    if presented is None:
        return None
    given = presented.encode("ascii", "replace")
    found: Scope | None = None
    for token, scope in tokens.items():
        if hmac.compare_digest(given, token.encode()):
            found = scope
    return found


def allows(granted: Scope, needed: Scope) -> bool:
    return granted == "trade" or needed == "read"
