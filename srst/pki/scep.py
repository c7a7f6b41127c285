# -*- test-case-name: tests.test_pki_scep -*-
"""
The SCEP message codec (RFC 8894), sans-IO.

A SCEP C{pkiMessage} is a CMS SignedData whose signed attributes carry the
SCEP fields (messageType, transactionID, senderNonce, recipientNonce,
pkiStatus, failInfo) and whose content, when present, is a CMS EnvelopedData
(the C{pkcsPKIEnvelope}) holding the request or the reply.

The ASN.1 structures are read and written with C{asn1crypto}; every
cryptographic operation (digests, signatures, the envelope's encryption and
decryption) is C{cryptography}'s.  Nothing here does I/O.

Only RSA keys can decrypt a SCEP envelope (key transport), so a certificate
server with an ECDSA CA key answers PKIOperation with FAILURE badAlg.
"""

from __future__ import annotations

import hashlib
from enum import Enum, IntEnum
from typing import Sequence

from asn1crypto import cms as acms
from asn1crypto import core as acore
from asn1crypto import crl as acrl
from asn1crypto import x509 as ax509
from attrs import frozen
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from srst.pki._x509 import PrivateKey

__all__ = [
    "FailInfo", "MessageType", "PkiMessage", "PkiStatus", "ScepError", "buildPkiMessage",
    "certificatesOnly", "decryptEnvelope", "encryptEnvelope", "issuerAndSerialNumber",
    "issuerAndSubject", "parseCertificatesOnly", "parseIssuerAndSerialNumber",
    "parseIssuerAndSubject", "parsePkiMessage",
]

# id-VeriSign 2.16.840.1.113733, id-pki .1, id-attributes .9 (RFC 8894 section 3.2.1).
_ATTRIBUTES = "2.16.840.1.113733.1.9"
OID_MESSAGE_TYPE = _ATTRIBUTES + ".2"
OID_PKI_STATUS = _ATTRIBUTES + ".3"
OID_FAIL_INFO = _ATTRIBUTES + ".4"
OID_SENDER_NONCE = _ATTRIBUTES + ".5"
OID_RECIPIENT_NONCE = _ATTRIBUTES + ".6"
OID_TRANSACTION_ID = _ATTRIBUTES + ".7"

_DIGESTS: dict[str, hashes.HashAlgorithm] = {
    "sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
}

# The largest message parsed at all; the HTTP layer limits bodies too.
MAX_MESSAGE = 256 * 1024


class MessageType(IntEnum):
    """
    SCEP messageType values (IANA "SCEP Message Types").
    """

    CERT_REP = 3
    RENEWAL_REQ = 17
    PKCS_REQ = 19
    CERT_POLL = 20
    GET_CERT = 21
    GET_CRL = 22

    @property
    def label(self) -> str:
        """
        The RFC's name (C{PKCSReq}).
        """
        return _MESSAGE_LABELS[self]


_MESSAGE_LABELS = {
    MessageType.CERT_REP: "CertRep", MessageType.RENEWAL_REQ: "RenewalReq", MessageType.PKCS_REQ: "PKCSReq",
    MessageType.CERT_POLL: "CertPoll", MessageType.GET_CERT: "GetCert", MessageType.GET_CRL: "GetCRL",
}


class PkiStatus(Enum):
    """
    SCEP pkiStatus values (decimal text in a PrintableString).
    """

    SUCCESS = "0"
    FAILURE = "2"
    PENDING = "3"


class FailInfo(IntEnum):
    """
    SCEP failInfo values.
    """

    BAD_ALG = 0
    BAD_MESSAGE_CHECK = 1
    BAD_REQUEST = 2
    BAD_TIME = 3
    BAD_CERT_ID = 4

    @property
    def label(self) -> str:
        """
        The RFC's name (C{badMessageCheck}).
        """
        first, *rest = self.name.lower().split("_")
        return first + "".join(w.capitalize() for w in rest)


class ScepError(Exception):
    """
    A SCEP message that cannot be accepted; C{failInfo} is what the CertRep
    says and C{reason} what the log says.
    """

    def __init__(self, failInfo: FailInfo, reason: str) -> None:
        super().__init__(failInfo, reason)
        self.failInfo = failInfo
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.failInfo.label}: {self.reason}"


@frozen
class PkiMessage:
    """
    A parsed SCEP C{pkiMessage} whose signature verified.

    @ivar signer: the certificate that signed it (included in the message).
    @ivar envelope: the C{pkcsPKIEnvelope} (a DER ContentInfo), if any.
    @ivar digestAlgorithm: the signer's digest (C{"sha256"}), used for the reply.
    """

    messageType: int
    transactionId: str
    senderNonce: bytes | None
    recipientNonce: bytes | None
    pkiStatus: PkiStatus | None
    failInfo: FailInfo | None
    signer: x509.Certificate
    envelope: bytes | None
    digestAlgorithm: str


# -- signed messages -------------------------------------------------------------


def _printable(oid: str, text: str) -> acms.CMSAttribute:
    return acms.CMSAttribute({"type": oid, "values": [acore.PrintableString(text)]})


def _octets(oid: str, data: bytes) -> acms.CMSAttribute:
    return acms.CMSAttribute({"type": oid, "values": [acore.OctetString(data)]})


def _sign(key: PrivateKey, data: bytes, digest: str) -> tuple[bytes, str]:
    algorithm = _DIGESTS[digest]
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), algorithm), "rsassa_pkcs1v15"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(algorithm)), f"{digest}_ecdsa"
    raise ScepError(FailInfo.BAD_ALG, f"cannot sign with a {type(key).__name__}")


def buildPkiMessage(
    messageType: MessageType,
    transactionId: str,
    signer: x509.Certificate,
    signerKey: PrivateKey,
    *,
    envelope: bytes | None = None,
    senderNonce: bytes | None = None,
    recipientNonce: bytes | None = None,
    pkiStatus: PkiStatus | None = None,
    failInfo: FailInfo | None = None,
    digest: str = "sha256",
) -> bytes:
    """
    Sign a SCEP C{pkiMessage}.

    @param envelope: the C{pkcsPKIEnvelope} (L{encryptEnvelope}), or C{None}
        for a content-less message (CertRep PENDING or FAILURE), which is
        sent with an empty eContent.
    @return: the DER ContentInfo (SignedData).
    """
    content = envelope if envelope is not None else b""
    attributes = [
        acms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        acms.CMSAttribute({"type": "message_digest",
                           "values": [hashlib.new(digest, content).digest()]}),
        _printable(OID_MESSAGE_TYPE, str(int(messageType))),
        _printable(OID_TRANSACTION_ID, transactionId),
    ]
    if pkiStatus is not None:
        attributes.append(_printable(OID_PKI_STATUS, pkiStatus.value))
    if failInfo is not None:
        attributes.append(_printable(OID_FAIL_INFO, str(int(failInfo))))
    if senderNonce is not None:
        attributes.append(_octets(OID_SENDER_NONCE, senderNonce))
    if recipientNonce is not None:
        attributes.append(_octets(OID_RECIPIENT_NONCE, recipientNonce))
    signedAttrs = acms.CMSAttributes(attributes)
    signature, signatureAlgorithm = _sign(signerKey, signedAttrs.dump(), digest)
    signerCert = ax509.Certificate.load(signer.public_bytes(serialization.Encoding.DER))
    # A content-less reply still carries an empty eContent: OpenSSL's
    # PKCS7_verify (certmonger's scep-submit) refuses a SignedData with none.
    encap: dict[str, object] = {"content_type": "data", "content": content}
    signed = acms.SignedData({
        "version": "v1",
        "digest_algorithms": [{"algorithm": digest}],
        "encap_content_info": encap,
        "certificates": [signerCert],
        "signer_infos": [{
            "version": "v1",
            "sid": acms.SignerIdentifier({"issuer_and_serial_number": {
                "issuer": signerCert.issuer, "serial_number": signerCert.serial_number}}),
            "digest_algorithm": {"algorithm": digest},
            "signed_attrs": signedAttrs,
            "signature_algorithm": {"algorithm": signatureAlgorithm},
            "signature": signature,
        }],
    })
    return acms.ContentInfo({"content_type": "signed_data", "content": signed}).dump(force=True)


def _attributeValue(attribute: acms.CMSAttribute) -> acore.Asn1Value:
    values = attribute["values"]
    if len(values) != 1:
        raise ValueError(f"attribute {attribute['type'].dotted} has {len(values)} values")
    return values[0]


def _printableValue(value: acore.Asn1Value) -> str:
    parsed = value.parse(acore.PrintableString) if isinstance(value, acore.Any) else value
    return str(parsed.native)


def _octetValue(value: acore.Asn1Value) -> bytes:
    parsed = value.parse(acore.OctetString) if isinstance(value, acore.Any) else value
    return bytes(parsed.native)


def _verify(signer: x509.Certificate, signature: bytes, data: bytes, digest: str) -> None:
    key = signer.public_key()
    algorithm = _DIGESTS[digest]
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise ScepError(FailInfo.BAD_ALG, f"unsupported signer key {type(key).__name__}")
    except InvalidSignature:
        raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "the message signature does not verify") from None


def parsePkiMessage(der: bytes) -> PkiMessage:
    """
    Parse a SCEP C{pkiMessage} and verify its signature with the signer's
    certificate carried inside it (who the signer I{is} is the caller's
    business).

    @raise ScepError: badMessageCheck for anything malformed or a signature
        that does not verify, badAlg for an unsupported digest.
    """
    if len(der) > MAX_MESSAGE:
        raise ScepError(FailInfo.BAD_MESSAGE_CHECK, f"message too large ({len(der)} bytes)")
    try:
        info = acms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, f"not SignedData ({info['content_type'].native})")
        signed = info["content"]
        signerInfos = signed["signer_infos"]
        if len(signerInfos) != 1:
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, f"{len(signerInfos)} signers (one expected)")
        signerInfo = signerInfos[0]
        sid = signerInfo["sid"]
        if sid.name != "issuer_and_serial_number":
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "the signer is not named by issuer and serial number")
        wanted = sid.chosen
        signerCert = None
        for choice in signed["certificates"] or []:
            if choice.name != "certificate":
                continue
            c = choice.chosen
            if c.issuer == wanted["issuer"] and c.serial_number == wanted["serial_number"].native:
                signerCert = x509.load_der_x509_certificate(c.dump())
                break
        if signerCert is None:
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "the signer's certificate is not in the message")
        digest = signerInfo["digest_algorithm"]["algorithm"].native
        if digest not in _DIGESTS:
            raise ScepError(FailInfo.BAD_ALG, f"unsupported digest {digest}")
        encap = signed["encap_content_info"]
        envelope = None if encap["content"].native is None else bytes(encap["content"].contents) or None
        signedAttrs = signerInfo["signed_attrs"]
        if not signedAttrs:
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "no signed attributes")
        byOid: dict[str, acore.Asn1Value] = {}
        for attribute in signedAttrs:
            byOid[attribute["type"].dotted] = _attributeValue(attribute)
        messageDigest = byOid.get("1.2.840.113549.1.9.4")
        if messageDigest is None or _octetValue(messageDigest) != hashlib.new(digest, envelope or b"").digest():
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "the message digest does not match the content")
        _verify(signerCert, bytes(signerInfo["signature"].native), signedAttrs.untag().dump(force=True), digest)
        if OID_MESSAGE_TYPE not in byOid or OID_TRANSACTION_ID not in byOid:
            raise ScepError(FailInfo.BAD_MESSAGE_CHECK, "messageType or transactionID is missing")
        status = byOid.get(OID_PKI_STATUS)
        fail = byOid.get(OID_FAIL_INFO)
        sender = byOid.get(OID_SENDER_NONCE)
        recipient = byOid.get(OID_RECIPIENT_NONCE)
        return PkiMessage(
            messageType=int(_printableValue(byOid[OID_MESSAGE_TYPE])),
            transactionId=_printableValue(byOid[OID_TRANSACTION_ID]),
            senderNonce=None if sender is None else _octetValue(sender),
            recipientNonce=None if recipient is None else _octetValue(recipient),
            pkiStatus=None if status is None else PkiStatus(_printableValue(status)),
            failInfo=None if fail is None else FailInfo(int(_printableValue(fail))),
            signer=signerCert,
            envelope=envelope,
            digestAlgorithm=digest,
        )
    except ScepError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, UnsupportedAlgorithm) as e:
        raise ScepError(FailInfo.BAD_MESSAGE_CHECK, f"malformed pkiMessage: {e}") from None


# -- envelopes -------------------------------------------------------------------


def encryptEnvelope(data: bytes, recipient: x509.Certificate) -> bytes:
    """
    @return: a DER ContentInfo (EnvelopedData, AES-128-CBC, RSA key
        transport) holding C{data} for C{recipient}.
    @raise ScepError: badAlg if the recipient's key is not RSA.
    """
    if not isinstance(recipient.public_key(), rsa.RSAPublicKey):
        raise ScepError(FailInfo.BAD_ALG, "the recipient's key is not RSA; SCEP envelopes need RSA")
    return (pkcs7.PKCS7EnvelopeBuilder().set_data(data).add_recipient(recipient)
            .set_content_encryption_algorithm(pkcs7.algorithms.AES128)
            .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))


def decryptEnvelope(envelope: bytes, certificate: x509.Certificate, key: PrivateKey) -> bytes:
    """
    @return: the content of a C{pkcsPKIEnvelope} addressed to C{certificate}.
    @raise ScepError: badAlg for a non-RSA key, badMessageCheck if the
        envelope is malformed, not for this recipient or does not decrypt.
    """
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ScepError(FailInfo.BAD_ALG, "the CA key is not RSA; it cannot open SCEP envelopes")
    try:
        return pkcs7.pkcs7_decrypt_der(envelope, certificate, key, [])
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise ScepError(FailInfo.BAD_MESSAGE_CHECK, f"the envelope does not decrypt: {e}") from None


# -- message contents ------------------------------------------------------------


def certificatesOnly(certificates: Sequence[x509.Certificate],
                     crls: Sequence[x509.CertificateRevocationList] = ()) -> bytes:
    """
    @return: a degenerate certificates-only SignedData (DER ContentInfo)
        holding C{certificates} and C{crls}.
    """
    signed: dict[str, object] = {
        "version": "v1",
        "digest_algorithms": [],
        "encap_content_info": {"content_type": "data"},
        "signer_infos": [],
    }
    if certificates:
        signed["certificates"] = [ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                                  for c in certificates]
    if crls:
        signed["crls"] = [acrl.CertificateList.load(c.public_bytes(serialization.Encoding.DER)) for c in crls]
    return acms.ContentInfo({"content_type": "signed_data", "content": acms.SignedData(signed)}).dump(force=True)


def parseCertificatesOnly(der: bytes) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList]]:
    """
    @return: the certificates and CRLs of a degenerate SignedData.
    @raise ScepError: badMessageCheck if it does not parse.
    """
    try:
        info = acms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        signed = info["content"]
        certs = [x509.load_der_x509_certificate(c.chosen.dump())
                 for c in signed["certificates"] or [] if c.name == "certificate"]
        crls = [x509.load_der_x509_crl(c.chosen.dump()) for c in signed["crls"] or [] if c.name == "crl"]
        return certs, crls
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ScepError(FailInfo.BAD_MESSAGE_CHECK, f"malformed certificates-only message: {e}") from None


def _name(name: x509.Name) -> ax509.Name:
    return ax509.Name.load(name.public_bytes())


class _IssuerAndSubject(acore.Sequence):
    _fields = [("issuer", ax509.Name), ("subject", ax509.Name)]


def issuerAndSerialNumber(issuer: x509.Name, serial: int) -> bytes:
    """
    @return: the DER IssuerAndSerialNumber (GetCert, GetCRL).
    """
    return acms.IssuerAndSerialNumber({"issuer": _name(issuer), "serial_number": serial}).dump(force=True)


def parseIssuerAndSerialNumber(der: bytes) -> tuple[bytes, int]:
    """
    @return: the issuer (DER, compare with C{x509.Name.public_bytes()}) and
        the serial number.
    @raise ScepError: badRequest if it does not parse.
    """
    try:
        value = acms.IssuerAndSerialNumber.load(der, strict=True)
        return value["issuer"].dump(), int(value["serial_number"].native)
    except (ValueError, TypeError, KeyError) as e:
        raise ScepError(FailInfo.BAD_REQUEST, f"malformed IssuerAndSerialNumber: {e}") from None


def issuerAndSubject(issuer: x509.Name, subject: x509.Name) -> bytes:
    """
    @return: the DER IssuerAndSubject (CertPoll).
    """
    return _IssuerAndSubject({"issuer": _name(issuer), "subject": _name(subject)}).dump(force=True)


def parseIssuerAndSubject(der: bytes) -> tuple[bytes, bytes]:
    """
    @return: the issuer and subject names (DER).
    @raise ScepError: badRequest if it does not parse.
    """
    try:
        value = _IssuerAndSubject.load(der, strict=True)
        return value["issuer"].dump(), value["subject"].dump()
    except (ValueError, TypeError, KeyError) as e:
        raise ScepError(FailInfo.BAD_REQUEST, f"malformed IssuerAndSubject: {e}") from None
