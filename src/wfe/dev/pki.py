"""A throw-away PKI for the local control plane (docs/testenv.md, "Identities").

One test CA signs the kube-apiserver's serving certificate (for ``127.0.0.1``, ``::1`` and
``localhost``) and every client certificate. kube-apiserver takes a client certificate's
Common Name as the user name and each Organization as a group, so :meth:`TestPKI.client_cert`
is how tests act as a user with given groups (``O=system:masters`` is the admin). The
service-account key signs and verifies ServiceAccount tokens (TokenRequest API).

All keys are ECDSA P-256: generated in microseconds, accepted by kube-apiserver for TLS and for
ServiceAccount tokens (ES256). Nothing here is secret beyond one test run; the files are
written with mode 0600 all the same.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertKey", "KeyPair", "TestPKI"]

# Long enough for a `wfe dev` session left running for weeks; the PKI is new at every start.
_VALIDITY = dt.timedelta(days=365)
# Tolerate a little clock skew between the certificate's creation and its first use.
_BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class CertKey:
    """A PEM certificate and its PEM (PKCS#8, unencrypted) private key."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write ``<stem>.crt`` and ``<stem>.key`` into ``directory``; return both paths."""
        cert_path = directory / f"{stem}.crt"
        key_path = directory / f"{stem}.key"
        _write_private(cert_path, self.cert_pem)
        _write_private(key_path, self.key_pem)
        return cert_path, key_path


@dataclass(frozen=True)
class KeyPair:
    """A PEM private key (SEC 1, ``EC PRIVATE KEY``) and its PEM public key (``PUBLIC KEY``).

    kube-apiserver's ``--service-account-key-file`` reads public keys (and RSA, not PKCS#8 EC,
    private keys), so the verifying side gets the public half in a file of its own.
    """

    private_pem: bytes
    public_pem: bytes


class TestPKI:
    """A CA plus the certificates and keys one local control plane needs.

    ``TestPKI()`` makes a new CA; the other methods issue material signed by it.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, common_name: str = "wfe-dev-ca") -> None:
        self._ca_key = _new_key()
        now = _now()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        ca_public_key = self._ca_key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(ca_public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_public_key), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        self._ca_cert = cert
        self.ca = CertKey(cert.public_bytes(serialization.Encoding.PEM), _key_pem(self._ca_key))

    def serving_cert(
        self,
        dns_names: Sequence[str] = ("localhost",),
        ip_addresses: Sequence[str] = ("127.0.0.1", "::1"),
    ) -> CertKey:
        """A server certificate (``serverAuth``) for the given names and addresses."""
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
        common_name = dns_names[0] if dns_names else ip_addresses[0]
        return self._issue(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
            ExtendedKeyUsageOID.SERVER_AUTH,
            sans,
        )

    def client_cert(self, user: str, groups: Sequence[str] = ()) -> CertKey:
        """A client certificate (``clientAuth``) for ``user`` in ``groups``.

        kube-apiserver authenticates it as user ``CN`` with one group per ``O`` (plus
        ``system:authenticated``).
        """
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
        return self._issue(x509.Name(attributes), ExtendedKeyUsageOID.CLIENT_AUTH, [])

    @staticmethod
    def service_account_key() -> KeyPair:
        """A new key pair: private for ``--service-account-signing-key-file``, public for
        ``--service-account-key-file``."""
        key = _new_key()
        return KeyPair(
            private_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
            public_pem=key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )

    def _issue(
        self,
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName],
    ) -> CertKey:
        key = _new_key()
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _VALIDITY)
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
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._ca_key, hashes.SHA256())
        return CertKey(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)
