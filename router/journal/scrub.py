"""Removing anything credential-like before a document is stored or shown."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"(secret|token|password|passwd|api[_-]?key|apikey|signature|authori[sz]ation|credential|"
    r"private[_-]?key|cookie|session)",
    re.IGNORECASE,
)


def scrub(value: Any) -> Any:
    """A copy of ``value`` whose credential-like keys hold ``[redacted]`` at any depth."""
    if isinstance(value, dict):
        return {
            key: REDACTED if isinstance(key, str) and _SECRET_KEY.search(key) else scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value
