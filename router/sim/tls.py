"""TLS material for the simulated venues.

The simulator answers as ``api.binance.com`` and friends, so it needs a certificate
for those names. A private CA is created once per directory; clients trust that CA
and nothing else, which keeps real Binance certificates (and real Binance) out of
the picture.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIM_HOSTS: tuple[str, ...] = (
    "api.binance.com",
    "fapi.binance.com",
    "stream.binance.com",
    "fstream.binance.com",
)

CA_FILE = "ca.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"
_LOCK_FILE = ".tls.lock"

_VALIDITY = dt.timedelta(days=825)
_BACKDATE = dt.timedelta(days=1)
_MIN_REMAINING = dt.timedelta(days=1)
_ALWAYS_COVERED: tuple[str, ...] = ("localhost", "127.0.0.1")

_IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class TlsMaterial:
    """Paths of the PEM files: the CA certificate, the server certificate and its key."""

    ca_cert: Path
    cert: Path
    key: Path


def ensure_tls_material(directory: Path, hosts: Sequence[str] = SIM_HOSTS) -> TlsMaterial:
    """Return usable TLS material in ``directory``, creating it when needed.

    Existing files are kept when they parse, the server certificate is signed by the
    CA and matches the key, its names cover ``hosts`` plus ``localhost`` and
    127.0.0.1, and both certificates stay valid for at least another day. Otherwise
    a fresh CA and server certificate replace them. Concurrent callers sharing a
    directory are serialised with a lock file so they never see a mixed set.
    """
    directory.mkdir(parents=True, exist_ok=True)
    material = TlsMaterial(
        ca_cert=directory / CA_FILE,
        cert=directory / CERT_FILE,
        key=directory / KEY_FILE,
    )
    dns_names, ip_addresses = _split_names([*hosts, *_ALWAYS_COVERED])
    with _locked(directory / _LOCK_FILE):
        if _is_reusable(material, dns_names, ip_addresses):
            material.key.chmod(0o600)
        else:
            _generate(material, dns_names, ip_addresses)
    return material


def server_ssl_context(material: TlsMaterial) -> ssl.SSLContext:
    """TLS context for the venue's listening socket."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile=material.cert, keyfile=material.key)
    return context


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _split_names(names: Sequence[str]) -> tuple[frozenset[str], frozenset[_IpAddress]]:
    dns_names: set[str] = set()
    ip_addresses: set[_IpAddress] = set()
    for name in names:
        try:
            ip_addresses.add(ipaddress.ip_address(name))
        except ValueError:
            if not name or name != name.strip():
                raise ValueError(f"invalid host name {name!r}") from None
            dns_names.add(name.lower().rstrip("."))
    return frozenset(dns_names), frozenset(ip_addresses)


def _is_reusable(
    material: TlsMaterial, dns_names: frozenset[str], ip_addresses: frozenset[_IpAddress]
) -> bool:
    try:
        ca_cert = x509.load_pem_x509_certificate(material.ca_cert.read_bytes())
        cert = x509.load_pem_x509_certificate(material.cert.read_bytes())
        key = serialization.load_pem_private_key(material.key.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    if _spki(key.public_key()) != _spki(cert.public_key()):
        return False
    now = dt.datetime.now(dt.UTC)
    for certificate in (ca_cert, cert):
        if certificate.not_valid_before_utc > now:
            return False
        if certificate.not_valid_after_utc < now + _MIN_REMAINING:
            return False
    covered_names = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    covered_ips = set(san.get_values_for_type(x509.IPAddress))
    return dns_names <= covered_names and ip_addresses <= covered_ips


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _generate(
    material: TlsMaterial, dns_names: frozenset[str], ip_addresses: frozenset[_IpAddress]
) -> None:
    not_before = dt.datetime.now(dt.UTC) - _BACKDATE
    not_after = not_before + _VALIDITY

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "router venue simulator CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in sorted(dns_names)]
    alt_names += [x509.IPAddress(ip) for ip in sorted(ip_addresses, key=str)]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "router venue simulator")])
        )
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    key_pem = server_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    _write_atomically(material.key, key_pem, mode=0o600)
    _write_atomically(material.cert, server_cert.public_bytes(serialization.Encoding.PEM))
    _write_atomically(material.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))


def _write_atomically(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
