"""The session's certificates: a one-off CA and the serving certificate it signs, made at start.

kubectl and the Python client verify the server against the CA (the kubeconfig carries it as
certificate-authority-data), so they send the bearer token to this server only. The CA's private key is
never written anywhere: once the serving certificate is signed, nothing else can be made to pass for it.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=30)  # longer than any game day; the CA dies with the session anyway


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA certificate (PEM): what clients trust
    cert: Path  # the serving certificate (PEM)
    key: Path  # its private key (PEM, readable by the owner only)

    @property
    def ca_pem(self) -> bytes:
        return self.ca.read_bytes()


def make_certificates(directory: Path, hosts: list[str]) -> Certificates:
    """Write ca.pem, cert.pem and key.pem into directory; the serving certificate names these hosts."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    unique = f"simdeploy-serve-ca-{x509.random_serial_number():x}"  # a CA of its own for every session
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, unique)])
    ca_public = ca_key.public_key()
    ca = (
        _valid(x509.CertificateBuilder(), now)
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_public)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_public), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _valid(x509.CertificateBuilder(), now)
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "simdeploy-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certificates(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.touch(mode=0o600)
    paths.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _valid(builder: x509.CertificateBuilder, now: datetime.datetime) -> x509.CertificateBuilder:
    return (
        builder.serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))  # tolerate a client clock a little behind
        .not_valid_after(now + VALIDITY)
    )


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _alt_names(hosts: list[str]) -> list[x509.GeneralName]:
    # Go's crypto/x509 (kubectl) matches only subjectAltName, never the common name: every host goes in.
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(h for h in hosts if h and h.isascii()):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def server_context(certificates: Certificates) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.cert, certificates.key)
    # Offer only HTTP/1.1: client-go's transport (k8s.io/apimachinery/pkg/util/net/http.go SetTransportDefaults)
    # speaks HTTP/2 only when ALPN agrees on h2, and the chunked watch streams here are HTTP/1.1.
    context.set_alpn_protocols(["http/1.1"])
    return context
