"""The test PKI issues what kube-apiserver's x509 authenticator reads: CN = user, O = groups."""

from __future__ import annotations

import ipaddress

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wfe.dev.pki import TestPKI


def _load(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def test_client_cert_carries_user_and_groups_and_chains_to_the_ca() -> None:
    pki = TestPKI()
    cert = _load(pki.client_cert("alice", ["wfe-operators", "sre"]).cert_pem)

    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["alice"]
    organizations = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [a.value for a in organizations] == ["wfe-operators", "sre"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    cert.verify_directly_issued_by(_load(pki.ca.cert_pem))


def test_serving_cert_names_loopback_and_localhost() -> None:
    pki = TestPKI()
    cert = _load(pki.serving_cert().cert_pem)

    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    cert.verify_directly_issued_by(_load(pki.ca.cert_pem))
