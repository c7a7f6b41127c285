# -*- test-case-name: tests.test_pki_ca -*-
"""
What the certificate server signs: its self-signed CA certificate, the
end-entity certificates it issues, and its CRLs.

These are pure functions of their arguments (keys, names, serials, times);
L{srst.pki.ca.CertificateServer} reserves the serial, checks the clock and
stores the result.
"""

from __future__ import annotations

import datetime
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from srst.pki._x509 import PrivateKey


def buildCACertificate(
    key: PrivateKey,
    subject: x509.Name,
    serial: int,
    notBefore: datetime.datetime,
    notAfter: datetime.datetime,
) -> x509.Certificate:
    """
    A self-signed CA certificate: SHA-256, basicConstraints CA (critical),
    keyUsage digitalSignature + keyCertSign + cRLSign (critical), SKI, AKI.

    @param key: the CA key.
    @param subject: its subject (and issuer).
    @param serial: its serial number.
    @param notBefore: the start of its validity.
    @param notAfter: the end of its validity.
    @return: the certificate.
    """
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(notBefore)
        .not_valid_after(notAfter)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )


def buildCertificate(
    csr: x509.CertificateSigningRequest,
    caKey: PrivateKey,
    caCertificate: x509.Certificate,
    serial: int,
    notBefore: datetime.datetime,
    notAfter: datetime.datetime,
    sans: Sequence[x509.GeneralName],
    cdpUrl: str | None = None,
) -> x509.Certificate:
    """
    An end-entity certificate for C{csr}: its subject and public key,
    SHA-256, keyUsage digitalSignature + keyEncipherment (RSA) or
    digitalSignature + keyAgreement (ECDSA), extendedKeyUsage serverAuth +
    clientAuth, SKI, AKI, and C{sans} as subjectAltName (if any).

    @param csr: the request (its own extensions are ignored).
    @param caKey: the CA key that signs.
    @param caCertificate: the CA certificate (issuer name, AKI).
    @param serial: the serial number.
    @param notBefore: the start of its validity.
    @param notAfter: the end of its validity.
    @param sans: the subjectAltName entries (L{subjectAltNames}).
    @param cdpUrl: the CRL Distribution Point URL (IOS C{cdp-url}), if any.
    @return: the certificate.
    """
    publicKey = csr.public_key()
    if isinstance(publicKey, ec.EllipticCurvePublicKey):
        encipherment, agreement = False, True
    else:
        encipherment, agreement = True, False
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(caCertificate.subject)
        .public_key(publicKey)  # type: ignore[arg-type]
        .serial_number(serial)
        .not_valid_before(notBefore)
        .not_valid_after(notAfter)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=encipherment,
            data_encipherment=False, key_agreement=agreement, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(publicKey),  # type: ignore[arg-type]
                       critical=False)
        .add_extension(_authorityKeyIdentifier(caCertificate), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if cdpUrl is not None:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(cdpUrl)], relative_name=None, reasons=None,
            crl_issuer=None)]), critical=False)
    return builder.sign(caKey, hashes.SHA256())


def buildCrl(
    caKey: PrivateKey,
    caCertificate: x509.Certificate,
    previous: x509.CertificateRevocationList | None,
    revoked: dict[int, datetime.datetime],
    lastUpdate: datetime.datetime,
    nextUpdate: datetime.datetime,
) -> x509.CertificateRevocationList:
    """
    A CRL numbered one above C{previous} (1 if none or unnumbered), with
    an AKI and the C{revoked} serials in serial order, signed with SHA-256.

    @param caKey: the CA key that signs.
    @param caCertificate: the CA certificate (issuer name, AKI).
    @param previous: the CRL this one replaces.
    @param revoked: serial -> revocation date.
    @param lastUpdate: thisUpdate.
    @param nextUpdate: nextUpdate.
    @return: the CRL.
    """
    number = 1
    if previous is not None:
        try:
            number = previous.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
        except x509.ExtensionNotFound:
            number = 1
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(caCertificate.subject)
        .last_update(lastUpdate)
        .next_update(nextUpdate)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_authorityKeyIdentifier(caCertificate), critical=False)
    )
    for serial, when in sorted(revoked.items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    return builder.sign(caKey, hashes.SHA256())


def _authorityKeyIdentifier(caCertificate: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = caCertificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        ski = x509.SubjectKeyIdentifier.from_public_key(caCertificate.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
