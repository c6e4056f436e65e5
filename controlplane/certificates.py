"""Per-instance TLS certificates: self-signed, so the certificate users download is the only
thing that verifies the server, and renewing it really invalidates the previous one.

The certificate names every address users connect to (the advertise address, 127.0.0.1,
localhost) and the instance's own DNS name. Keys are ECDSA P-256.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from controlplane.db.base import utcnow

VALIDITY = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class IssuedCertificate:
    cert_pem: str
    key_pem: str
    not_after: datetime


def dns_name(instance_id: str, region: str) -> str:
    return f"{instance_id}.rdb.{region}.internal"


def issue(
    instance_id: str, region: str, addresses: list[str], now: datetime | None = None
) -> IssuedCertificate:
    now = now or utcnow()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, dns_name(instance_id, region)),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dbaas managed database"),
        ]
    )
    ips = sorted({*addresses, "127.0.0.1"})
    san = x509.SubjectAlternativeName(
        [x509.DNSName(dns_name(instance_id, region)), x509.DNSName("localhost")]
        + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(san, critical=False)
        # A self-signed end-entity certificate that is also its own trust anchor.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return IssuedCertificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        not_after=cert.not_valid_after_utc,
    )


def covers(cert_pem: str, addresses: list[str]) -> bool:
    """The certificate names every one of these IP addresses."""
    if not cert_pem:
        return False
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    named = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(addresses) <= named


def due_for_renewal(not_after: datetime, now: datetime | None = None) -> bool:
    return (now or utcnow()) >= not_after - RENEW_BEFORE
