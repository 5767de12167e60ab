"""The appliance's own certificates for HTTPS on the plant LAN: a local CA and a server certificate it signs.

On first start the appliance makes a CA (ECDSA P-256, 10 years) and a server certificate (2 years) for every
name a tablet may use to reach it: the hostname, hostname.local, the mDNS host name, every non-loopback LAN
address, localhost and 127.0.0.1. They live in `<data_dir>/tls/` (folder 0700, files 0600). The server
certificate is made again when the LAN addresses change (DHCP gave the box a new one), when it nears its
end, or when it was not signed by the CA beside it; the CA itself is kept, so a tablet that installed it
once keeps trusting the box. `/ca.crt` serves the CA, and the admin page shows its SHA-256 fingerprint and a
QR code of that address so a tablet can install it and the fingerprint can be compared by eye.

A plant that has its own CA names its files instead ([web] tls_cert, tls_key, tls_ca): nothing is made then.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from appliance.core.errors import ConfigError

log = logging.getLogger(__name__)

CA_DAYS = 3652
SERVER_DAYS = 730
RENEW_BEFORE_DAYS = 30


@dataclass(frozen=True)
class Paths:
    ca_cert: Path
    cert: Path
    key: Path
    ca_key: Path | None  # None: the plant's own certificates, which the appliance never rewrites

    @property
    def managed(self) -> bool:
        return self.ca_key is not None


def paths_for(config) -> Paths:
    """Where the certificates are: the configured files, or the appliance's own under <data_dir>/tls."""
    web = config.web
    if web.tls_cert is not None and web.tls_key is not None:
        return Paths(ca_cert=web.tls_ca or web.tls_cert, cert=web.tls_cert, key=web.tls_key, ca_key=None)
    d = config.storage.data_dir / "tls"
    return Paths(ca_cert=d / "ca.crt", cert=d / "server.crt", key=d / "server.key", ca_key=d / "ca.key")


def wanted_names(hostname: str, addresses: list[str], extra_dns: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) the server certificate must cover, each sorted and once."""
    dns = {"localhost", *extra_dns}
    if hostname:
        short = hostname.split(".")[0]
        dns |= {hostname, short, f"{short}.local"}
    ips = {"127.0.0.1", *(a for a in addresses if a)}
    return sorted(dns), sorted(ips, key=lambda a: (ipaddress.ip_address(a).version, ipaddress.ip_address(a)))


def lan_names(config) -> tuple[list[str], list[str]]:
    """The names of this box now: its hostname, its mDNS host name and its LAN addresses."""
    from appliance.core.discovery import interface_addresses, lan_addresses

    extra: tuple[str, ...] = ()
    if config.discovery.enabled:
        name = config.discovery.service_name or f"safety-appliance-{config.site.appliance_id}"
        extra = (f"{name.replace(' ', '-')}.local",)
    lan = [a for a in lan_addresses(interface_addresses()) if not a.startswith("127.")]
    return wanted_names(socket.gethostname(), lan, extra)


def _write_private(path: Path, data: bytes) -> None:
    """Written whole (temp file, fsync, rename) and readable by the service user only from its first byte."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Safety appliance (local CA)")])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_server(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, dns: list[str],
                ips: list[str]) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    alt = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0] if dns else ips[0])]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            # a Pi without an RTC may boot a little in the past: valid from a day back
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def names_of(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return (sorted(san.get_values_for_type(x509.DNSName)),
            sorted((str(a) for a in san.get_values_for_type(x509.IPAddress)),
                   key=lambda a: (ipaddress.ip_address(a).version, ipaddress.ip_address(a))))


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate, as browsers and `openssl x509 -fingerprint -sha256` show it."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _server_reason(p: Paths, ca: x509.Certificate, dns: list[str], ips: list[str]) -> str | None:
    """Why the server certificate must be made again, or None when it is good."""
    cert = _load_cert(p.cert)
    if cert is None or not p.key.exists():
        return "missing"
    if cert.issuer != ca.subject:
        return "not signed by this CA"
    key = serialization.load_pem_private_key(p.key.read_bytes(), password=None)
    if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        return "the key does not match"
    if cert.not_valid_after_utc - _now() < dt.timedelta(days=RENEW_BEFORE_DAYS):
        return "expiring"
    if names_of(cert) != (dns, ips):
        return "the LAN names changed"
    return None


def ensure(p: Paths, dns: list[str], ips: list[str], common_name: str = "Safety appliance CA") -> str | None:
    """Make the CA if there is none and the server certificate when needed; returns why it was made (None when
    the files on disk were kept). The plant's own certificates are only checked, never written."""
    if not p.managed:
        for key, path in (("web.tls_cert", p.cert), ("web.tls_key", p.key), ("web.tls_ca", p.ca_cert)):
            if not path.is_file():
                raise ConfigError(f"{key}：找不到文件 {path}", f"{key}: file not found: {path}", code="config_tls")
        return None
    assert p.ca_key is not None
    p.cert.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca = _load_cert(p.ca_cert)
    ca_key = None
    if ca is not None and p.ca_key.exists():
        loaded = serialization.load_pem_private_key(p.ca_key.read_bytes(), password=None)
        ca_key = loaded if isinstance(loaded, ec.EllipticCurvePrivateKey) else None
    if ca is None or ca_key is None:
        ca, ca_key = make_ca(common_name)
        _write_private(p.ca_key, _pem_key(ca_key))
        _write_private(p.ca_cert, ca.public_bytes(serialization.Encoding.PEM))
        log.info("made the local CA", extra={"fingerprint": fingerprint(ca), "path": str(p.ca_cert)})
    reason = _server_reason(p, ca, dns, ips)
    if reason is None:
        return None
    cert, server_key = make_server(ca, ca_key, dns, ips)
    _write_private(p.key, _pem_key(server_key))   # key first: a crash between the two leaves a mismatch, found next time
    _write_private(p.cert, cert.public_bytes(serialization.Encoding.PEM))
    log.info("made the server certificate", extra={"reason": reason, "dns": dns, "ips": ips})
    return reason


def ca_pem(p: Paths) -> bytes:
    return p.ca_cert.read_bytes()


def ca_fingerprint(p: Paths) -> str | None:
    cert = _load_cert(p.ca_cert)
    return fingerprint(cert) if cert is not None else None
