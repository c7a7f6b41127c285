"""
Tests for L{srst.pki.iosconfig}: the C{pki:} section as C{crypto pki ...}
commands, and the import of those commands.
"""

from __future__ import annotations

import os
import ssl
from functools import partial

from twisted.trial.unittest import SynchronousTestCase

from srst.configreader import Reader
from srst.pki.config import readPki
import re

from srst.pki.iosconfig import ChainCertificate, certificateBlock, importIos, pemOf, runningConfig
from tests.ioshelpers import imported

_HEX_OR_QUIT = re.compile(r"^([0-9A-F]{1,8}( [0-9A-F]{1,8})*|quit|certificate (ca )?[0-9A-F]+):")

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "seed")
SEED_CHAINS = os.path.join(FIXTURES, "running-config-chains.txt")


def _pki(document: dict) -> object:
    problems: list = []
    config = readPki(Reader(document, "pki", problems))
    assert not problems, problems
    return config


def _seedChainLines(name: str) -> list[str]:
    """
    The seed's C{crypto pki certificate chain <name>} block, one blank per
    level, trailing blanks removed.
    """
    lines, inside = [], False
    with open(SEED_CHAINS) as f:
        for raw in f.read().splitlines():
            if raw.startswith("crypto pki certificate chain"):
                inside = raw.split()[-1] == name
            if inside:
                lines.append(raw.rstrip())
    return lines


_imported = partial(imported, importIos)


class RunningConfigTests(SynchronousTestCase):
    """
    L{runningConfig} prints the section as IOS does.
    """

    def test_empty(self) -> None:
        """
        No server and no trustpoints: no lines.
        """
        self.assertEqual(runningConfig(_pki({})), [])

    def test_seedServerAndTrustpoints(self) -> None:
        """
        The shipped shape: the server (IOS defaults left out, C{database
        level} and C{grant auto} printed), the identity enrolled with it as
        C{enrollment url} to the router's HTTP server, the server's own
        trustpoint as IOS creates it, the phone trustpoints as C{enrollment
        terminal}.
        """
        pki = _pki({
            "server": {"name": "srstcaserver", "issuer-name": "CN=srstcaserver", "grant": "auto"},
            "trustpoints": {
                "srstca": {"enrollment": {"server": "srstcaserver"}, "revocation-check": "none"},
                "7970": {"certificates": [os.path.join(FIXTURES, "CiscoCA.pem")]},
            },
        })
        self.assertEqual(runningConfig(pki, localEnrollmentUrl="http://10.1.1.22:80"), [
            "crypto pki server srstcaserver",
            " database level complete",
            " issuer-name CN=srstcaserver",
            " grant auto",
            "!",
            "crypto pki trustpoint srstca",
            " enrollment url http://10.1.1.22:80",
            " revocation-check none",
            "!",
            "crypto pki trustpoint srstcaserver",
            " revocation-check none",
            " rsakeypair srstcaserver",
            "!",
            "crypto pki trustpoint 7970",
            " enrollment terminal",
            " revocation-check none",
            "!",
        ])

    def test_everySetting(self) -> None:
        """
        Non-default lifetimes, C{cdp-url}, key sizes and types, SCEP
        enrollment with its fingerprint and C{auto-enroll}, a terminal
        identity, a phone trustpoint checking a CRL; the challenge password
        is never printed.
        """
        cert = os.path.join(FIXTURES, "CiscoCA.pem")
        pki = _pki({
            "server": {"name": "ca", "database-level": "minimal", "grant": "manual",
                       "lifetime": {"ca-days": 730, "certificate-days": 30, "crl-hours": 24},
                       "rsakeypair": {"type": "rsa", "bits": 4096},
                       "cdp-url": "http://10.1.1.22/crl/ca.crl"},
            "trustpoints": {
                "remote": {"enrollment": {"url": "http://10.9.9.9:80", "fingerprint": "AC9919F5CAFE056092B3478ACFF5EC00",
                                          "password": "s3cret", "auto-enroll": 70},
                           "subject-name": "CN=branch,O=Example", "rsakeypair": {"type": "rsa", "bits": 3072},
                           "revocation-check": "crl"},
                "ec": {"enrollment": {"server": "ca"}, "rsakeypair": {"type": "ecdsa", "bits": 256}},
                "byhand": {"enrollment": "terminal", "terminal": {"certificate": cert, "key": cert}},
                "capf": {"certificates": [cert], "revocation-check": ["crl", "none"],
                         "crl": {"url": "http://10.1.1.13/capf.crl", "cache-delete-after": 60}},
            },
        })
        lines = runningConfig(pki, localEnrollmentUrl="http://10.1.1.22:8080")
        self.assertEqual(lines, [
            "crypto pki server ca",
            " issuer-name CN=ca",
            " lifetime crl 24",
            " lifetime certificate 30",
            " lifetime ca-certificate 730",
            " cdp-url http://10.1.1.22/crl/ca.crl",
            "!",
            "crypto pki trustpoint remote",
            " enrollment url http://10.9.9.9:80",
            " fingerprint AC9919F5CAFE056092B3478ACFF5EC00",
            " subject-name CN=branch,O=Example",
            " revocation-check crl",
            " rsakeypair remote 3072",
            " auto-enroll 70",
            "!",
            "crypto pki trustpoint ec",
            " enrollment url http://10.1.1.22:8080",
            " revocation-check none",
            " eckeypair ec",
            "!",
            "crypto pki trustpoint byhand",
            " enrollment terminal",
            " revocation-check none",
            "!",
            "crypto pki trustpoint ca",
            " revocation-check none",
            " rsakeypair ca 4096",
            "!",
            "crypto pki trustpoint capf",
            " enrollment terminal",
            " revocation-check crl none",
            " crl query http://10.1.1.13/capf.crl",
            " crl cache delete-after 60",
            "!",
        ])
        self.assertNotIn("s3cret", "\n".join(lines))

    def test_chainsAsTheSeedPrintsThem(self) -> None:
        """
        The trustpoints' certificates print as the seed's C{crypto pki
        certificate chain} blocks, byte for byte: the router certificate
        (C{certificate 02}), CA certificates (C{certificate ca 01}), a
        negative serial as its encoded octets (C{F301}), 8 words a line.
        """
        with open(os.path.join(FIXTURES, "srstca-02.cer"), "rb") as f:
            router = f.read()
        with open(os.path.join(FIXTURES, "srstcaserver-ca-01.cer"), "rb") as f:
            ca = f.read()
        with open(os.path.join(FIXTURES, "59fe77ccd.0"), "rb") as f:
            capf = f.read()
        pki = _pki({"trustpoints": {
            "srstca": {"enrollment": "terminal",
                       "terminal": {"certificate": os.path.join(FIXTURES, "srstca-02.cer"),
                                    "key": os.path.join(FIXTURES, "srstca-02.cer")}},
            "7960": {"certificates": [os.path.join(FIXTURES, "59fe77ccd.0")]}}})
        lines = runningConfig(pki, chains={
            "srstca": [ChainCertificate(router, False), ChainCertificate(ca, True)],
            "7960": [ChainCertificate(capf, True)]})
        start = lines.index("crypto pki certificate chain srstca")
        self.assertEqual(lines[start:], _seedChainLines("srstca") + _seedChainLines("7960") + ["!"])

    def test_certificateBlock(self) -> None:
        """
        One block: header, hex words, C{quit}, one level deeper each.
        """
        with open(os.path.join(FIXTURES, "srstcaserver-ca-01.cer"), "rb") as f:
            ca = f.read()
        self.assertEqual(certificateBlock(ChainCertificate(ca, True)),
                         [line[1:] for line in _seedChainLines("srstcaserver")[1:]])


SEED_PKI = """\
crypto pki server srstcaserver
 database level complete
 database url nvram
 issuer-name CN=srstcaserver
!
crypto pki trustpoint srstca
 enrollment url http://10.1.1.22:80
 revocation-check none
!
crypto pki trustpoint srstcaserver
 revocation-check none
 rsakeypair srstcaserver
!
interface FastEthernet0/0
 ip address 10.1.1.22 255.255.255.0
"""


class ImportTests(SynchronousTestCase):
    """
    L{importIos} reads the C{crypto pki} commands into C{pki:}.
    """

    def test_seedServerAndIdentity(self) -> None:
        """
        The seed's server (no C{grant auto}: IOS's manual granting; no
        C{database level}: IOS's minimal), its trustpoint (the server's
        key), and C{srstca} enrolling with a URL on the router's own
        interface address, which is the local server.  The interface line
        is left for others.
        """
        document, skipped, rest = _imported(SEED_PKI)
        self.assertEqual(document, {"pki": {
            "server": {"name": "srstcaserver", "issuer-name": "CN=srstcaserver",
                       "database-level": "complete", "grant": "manual"},
            "trustpoints": {"srstca": {"enrollment": {"server": "srstcaserver"}, "revocation-check": "none"}},
        }})
        self.assertEqual(skipped, ["line 3: database url nvram: srst keeps the CA database in state-dir"
                                   " (pki/server/<name>)"])
        self.assertEqual(rest, ["interface FastEthernet0/0"])

    def test_everySetting(self) -> None:
        """
        Every command with an srst key comes across; a remote URL stays a
        SCEP enrollment with its fingerprint, password and C{auto-enroll}.
        """
        document, skipped, _ = _imported("""\
crypto pki server ca
 database level names
 issuer-name CN=ca,O=Branch
 grant auto
 lifetime crl 24
 lifetime certificate 30
 lifetime ca-certificate 730
 cdp-url http://10.1.1.22/crl/ca.crl
 no shutdown
crypto pki trustpoint ca
 rsakeypair ca 4096
crypto pki trustpoint remote
 enrollment url http://10.9.9.9:80
 fingerprint AC9919F5CAFE056092B3478ACFF5EC00
 password s3cret
 subject-name CN=branch, O=Example
 revocation-check crl
 rsakeypair remote 3072
 auto-enroll 70
crypto pki trustpoint ec
 enrollment url http://127.0.0.1:80
 eckeypair ec
""")
        self.assertEqual(skipped, [])
        self.assertEqual(document["pki"], {
            "server": {"name": "ca", "issuer-name": "CN=ca,O=Branch", "database-level": "names", "grant": "auto",
                       "lifetime": {"ca-days": 730, "certificate-days": 30, "crl-hours": 24},
                       "cdp-url": "http://10.1.1.22/crl/ca.crl", "rsakeypair": {"type": "rsa", "bits": 4096}},
            "trustpoints": {
                "remote": {"enrollment": {"url": "http://10.9.9.9:80", "fingerprint": "AC9919F5CAFE056092B3478ACFF5EC00",
                                          "password": "s3cret", "auto-enroll": 70},
                           "subject-name": "CN=branch, O=Example", "rsakeypair": {"type": "rsa", "bits": 3072},
                           "revocation-check": "crl"},
                "ec": {"enrollment": {"server": "ca"}, "rsakeypair": {"type": "ecdsa", "bits": 256},
                       "revocation-check": "none"},
            }})
        _pki(document["pki"])

    def test_phoneTrustpointChains(self) -> None:
        """
        The seed's terminal trustpoints with their C{certificate ca} blocks
        become phone trustpoints whose certificate files hold exactly the
        certificates' DER (PEM-wrapped), written where the caller says; the
        router's and the CA's own chains are listed as needing the private
        key.
        """
        with open(SEED_CHAINS) as f:
            chains = f.read()
        terminal = "".join(f"crypto pki trustpoint {name}\n enrollment terminal\n revocation-check none\n!\n"
                           for name in ("7970", "PEM", "7960"))
        files: dict[str, bytes] = {}
        document, skipped, _ = _imported(SEED_PKI + terminal + chains, certificateDirectory="out", files=files)
        trustpoints = document["pki"]["trustpoints"]
        for name, seedFile in (("7970", "CiscoCA.pem"), ("PEM", "a69d2e04.0"), ("7960", "59fe77ccd.0")):
            path = os.path.join("out", f"{name}.pem")
            self.assertEqual(trustpoints[name], {"certificates": [path], "revocation-check": "none"})
            with open(os.path.join(FIXTURES, seedFile), "rb") as f:
                data = f.read()
            der = data if seedFile.endswith(".0") and not data.startswith(b"-----") else ssl.PEM_cert_to_DER_cert(
                data.decode("ascii"))
            self.assertEqual(ssl.PEM_cert_to_DER_cert(files[path].decode("ascii")), der)
        self.assertEqual(sorted(files), ["out/7960.pem", "out/7970.pem", "out/PEM.pem"])
        chainHeads = [s for s in skipped if "certificate chain" in s]
        self.assertEqual([s.split(": ", 1)[0] for s in chainHeads], ["line 28", "line 64"])
        self.assertTrue(chainHeads[0].endswith(": crypto pki certificate chain srstca: needs the private key:"
                                               " srst enrolls this trustpoint itself at start-up (the IOS"
                                               " router's key is not in the configuration)"))
        self.assertTrue(chainHeads[1].endswith(": crypto pki certificate chain srstcaserver: srst's certificate"
                                               " server makes its own CA key and certificate in state-dir (the IOS"
                                               " CA's private key is not in the configuration)"))
        # Every line of those two chains, and only those, besides database url.
        self.assertEqual(len(skipped), 1 + 36 + 20)

    def test_pemKeepsTheExactDer(self) -> None:
        """
        L{pemOf} wraps the original DER (a negative serial stays as it was).
        """
        with open(os.path.join(FIXTURES, "59fe77ccd.0"), "rb") as f:
            der = f.read()
        pem = pemOf([ChainCertificate(der, True)]).decode("ascii")
        self.assertTrue(pem.startswith("-----BEGIN CERTIFICATE-----\n"))
        self.assertEqual(ssl.PEM_cert_to_DER_cert(pem), der)

    def test_skipReasons(self) -> None:
        """
        Each line srst cannot take is listed with its reason; the others of
        the same trustpoint still come across.
        """
        with open(SEED_CHAINS) as f:
            chains = f.read()
        broken = chains.replace("  308201F7 30820160", "  308201F7 3082016X")
        text = """\
crypto pki server ca
 database url nvram
 shutdown
 hash sha256
crypto pki server other
crypto pki trustpoint ca
 enrollment url http://10.1.1.1:80
 rsakeypair ca 512
crypto pki trustpoint self
 enrollment selfsigned
 subject-name CN=me
crypto pki trustpoint nomethod
 revocation-check none
crypto pki trustpoint remote
 enrollment url http://10.9.9.9:80
 rsakeypair otherlabel
 revocation-check crl none
 password 7 0822455D0A16
 crl query http://10.9.9.9/x.crl
 serial-number none
crypto pki trustpoint local
 enrollment url http://127.0.0.1:80
 fingerprint AC9919F5CAFE056092B3478ACFF5EC00
crypto pki trustpoint 7970
 enrollment terminal
 revocation-check crl
crypto pki trustpoint 7960
 enrollment terminal
crypto pki trustpoint PEM
 enrollment terminal
crypto pki trustpoint srstca
 enrollment terminal
crypto pki trustpoint empty
 enrollment terminal
""" + broken + "crypto pki certificate chain nobody\n certificate ca 01\n  00\n  quit\n"
        files: dict[str, bytes] = {}
        document, skipped, _ = _imported(text, files=files)
        heads = [s for s in skipped if not _HEX_OR_QUIT.match(s.split(": ", 1)[1])]
        self.assertEqual(heads, EXPECTED_HEADS)
        self.assertEqual(sorted(document["pki"]["trustpoints"]), ["7970", "PEM", "local", "remote"])
        self.assertEqual(document["pki"]["trustpoints"]["7970"], {"certificates": ["7970.pem"]})
        self.assertEqual(sorted(files), ["7970.pem", "PEM.pem"])
        body = [s for s in skipped if s not in heads]
        self.assertTrue(body)
        self.assertTrue(all(s.endswith(EXPECTED_BODY_REASONS) for s in body), body)


EXPECTED_HEADS = [
    'line 2: database url nvram: srst keeps the CA database in state-dir (pki/server/<name>)',
    "line 3: shutdown: srst's certificate server runs whenever it is configured",
    "line 4: hash sha256: srst's certificate server has no such setting",
    'line 5: crypto pki server other: srst runs one certificate server',
    "line 7: enrollment url http://10.1.1.1:80: the certificate server's own trustpoint: srst sets nothing else on it",
    'line 8: rsakeypair ca 512: srst generates RSA keys of 1024 to 8192 bits',
    'line 9: crypto pki trustpoint self: srst has no self-signed identity: enroll with the certificate server (enrollment url) instead',
    'line 10: enrollment selfsigned: srst has no self-signed identity: enroll with the certificate server (enrollment url) instead',
    'line 11: subject-name CN=me: srst has no self-signed identity: enroll with the certificate server (enrollment url) instead',
    'line 12: crypto pki trustpoint nomethod: no enrollment method (srst needs enrollment url or enrollment terminal)',
    'line 13: revocation-check none: no enrollment method (srst needs enrollment url or enrollment terminal)',
    "line 16: rsakeypair otherlabel: srst names each trustpoint's key after the trustpoint (remote); the label is not kept",
    'line 17: revocation-check crl none: an identity trustpoint checks revocation-check none or crl',
    'line 18: password 7 0822455D0A16: an encrypted password: set enrollment.password to the challenge password by hand',
    'line 19: crl query http://10.9.9.9/x.crl: srst checks CRLs only for phone (enrollment terminal) trustpoints',
    'line 20: serial-number none: srst trustpoints have no such setting',
    'line 23: fingerprint AC9919F5CAFE056092B3478ACFF5EC00: only for enrollment with a remote certificate server (enrollment url)',
    "line 26: revocation-check crl: srst needs the CRL's location (crl query <url>): the trustpoint is imported without revocation checking",
    'line 27: crypto pki trustpoint 7960: its certificate chain is not usable',
    "line 31: crypto pki trustpoint srstca: needs the private key: a trustpoint entered by terminal with the router's own certificate",
    'line 33: crypto pki trustpoint empty: enrollment terminal without a crypto pki certificate chain: no certificates to trust',
    "line 35: crypto pki certificate chain srstca: needs the private key: a trustpoint entered by terminal with the router's own certificate",
    'line 71: crypto pki certificate chain srstcaserver: no crypto pki trustpoint srstcaserver in the configuration',
    'line 157: crypto pki certificate chain 7960: certificate F301 is not a DER certificate (Non-hexadecimal digit found)',
    'line 159: 308201F7 3082016X A0030201 020202F3 01300D06 092A8648 86F70D01 01050500: certificate F301 is not a DER certificate (Non-hexadecimal digit found)',
    'line 176: crypto pki certificate chain nobody: no crypto pki trustpoint nobody in the configuration',
]
EXPECTED_BODY_REASONS = (
    'certificate F301 is not a DER certificate (Non-hexadecimal digit found)',
    "needs the private key: a trustpoint entered by terminal with the router's own certificate",
    'no crypto pki trustpoint nobody in the configuration',
    'no crypto pki trustpoint srstcaserver in the configuration',
)


class EnrollmentRetryTests(SynchronousTestCase):
    """
    IOS C{enrollment retry period/count} and a bare C{auto-enroll} (renew at
    expiry) print and import back.
    """

    def test_roundTrip(self) -> None:
        """
        Non-default retry settings and C{auto-enroll: true} print as IOS's
        commands, which import back to the same trustpoint; defaults print
        nothing.
        """
        pki = _pki({"trustpoints": {"remote": {
            "enrollment": {"url": "http://10.9.9.9:80", "fingerprint": "AC9919F5CAFE056092B3478ACFF5EC00",
                           "auto-enroll": True, "retry": {"period": 5, "count": 0}},
            "rsakeypair": {"type": "rsa", "bits": 2048}}}})
        lines = runningConfig(pki, localEnrollmentUrl="http://10.1.1.22:80")
        self.assertIn(" enrollment retry period 5", lines)
        self.assertIn(" enrollment retry count 0", lines)
        self.assertIn(" auto-enroll", lines)
        document, skipped, rest = _imported("\n".join(lines))
        self.assertEqual((skipped, rest), ([], []))
        self.assertEqual(_pki(document["pki"]), pki)
        plain = _pki({"trustpoints": {"remote": {
            "enrollment": {"url": "http://10.9.9.9:80", "fingerprint": "AC9919F5CAFE056092B3478ACFF5EC00"},
            "rsakeypair": {"type": "rsa", "bits": 2048}}}})
        self.assertFalse([line for line in runningConfig(plain, localEnrollmentUrl="http://10.1.1.22:80")
                          if "retry" in line or "auto-enroll" in line])
