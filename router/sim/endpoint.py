"""Where a simulated venue listens, and the credentials a client uses there."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VenueEndpoint:
    """Where a simulated venue listens and the credentials a client uses there."""

    name: str
    port: int
    ca_cert: Path
    api_key: str
    secret: str
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"venue {self.name!r}: port {self.port} is out of range")
        try:
            address = ipaddress.ip_address(self.host)
        except ValueError:
            raise ValueError(
                f"venue {self.name!r}: host must be an IP literal, got {self.host!r}"
            ) from None
        if not address.is_loopback:
            raise ValueError(f"venue {self.name!r}: host {self.host} is not a loopback address")

    def __repr__(self) -> str:
        return (
            f"VenueEndpoint(name={self.name!r}, port={self.port!r}, ca_cert={self.ca_cert!r}, "
            f"api_key={self.api_key!r}, secret='***', host={self.host!r})"
        )
