"""
Tests for L{srst.pki.config}: the C{pki:} section of router.yaml (the
certificate server and the trustpoints), read through L{srst.config}.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.config import loadString
from srst.pki.config import CrlSourceConfig, IdentityTrustpointConfig, KeySpec
from tests.test_config import MINIMAL, problemsOf


class PkiConfigTests(SynchronousTestCase):
    """
    Valid C{pki:} sections.
    """

    def test_identityAndServer(self):
        """
        An identity enrolled with the local certificate server keeps its
        subject name and default key; the server's lifetimes default to IOS's.
        """
        pki = loadString(MINIMAL).pki
        self.assertEqual(pki.identity("srstca"),
                         IdentityTrustpointConfig("srstca", "server", "srstcaserver",
                                                  subjectName="CN=branch-router"))
        self.assertIsNone(pki.identity("nosuch"))
        self.assertEqual((pki.server.caDays, pki.server.certificateDays, pki.server.crlHours), (1095, 365, 168))
        self.assertEqual(pki.server.keypair, KeySpec("rsa", 2048))

    def test_cdpUrl(self):
        """
        C{cdp-url} (IOS C{cdp-url}) is kept; without it there is none.
        """
        self.assertIsNone(loadString(MINIMAL).pki.server.cdpUrl)
        text = MINIMAL.replace("issuer-name: CN=srstcaserver}",
                               "issuer-name: CN=srstcaserver, cdp-url: 'http://10.1.1.1/crl/srstcaserver.crl'}")
        self.assertEqual(loadString(text).pki.server.cdpUrl, "http://10.1.1.1/crl/srstcaserver.crl")

    def test_ecdsaKeypair(self):
        """
        C{rsakeypair: {type: ecdsa}} means P-256.
        """
        text = MINIMAL.replace("subject-name: CN=branch-router}",
                               "subject-name: CN=branch-router, rsakeypair: {type: ecdsa}}")
        self.assertEqual(loadString(text).pki.identity("srstca").keypair, KeySpec("ecdsa", 256))


class PkiConfigErrorTests(SynchronousTestCase):
    """
    Problems in C{pki:} name their YAML path.
    """

    def test_badCdpUrl(self):
        """
        A C{cdp-url} that is not an http URL is refused at its path.
        """
        lines = problemsOf(self, MINIMAL.replace("issuer-name: CN=srstcaserver}",
                                                 "issuer-name: CN=srstcaserver, cdp-url: 'ldap://x/crl'}"))
        self.assertEqual(lines, ["router.yaml: pki.server.cdp-url: 'ldap://x/crl' is not allowed; expected an "
                                 "http:// URL such as http://10.1.1.1/crl/srstcaserver.crl"])

    def test_missingFile(self):
        """
        A phone trustpoint naming a missing file says which file.
        """
        lines = problemsOf(self, MINIMAL.replace(
            "  trustpoints:\n", "  trustpoints:\n    '7970': {certificates: [/nonexistent/CiscoCA.pem]}\n"))
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("pki.trustpoints.7970.certificates[0]: '/nonexistent/CiscoCA.pem'", lines[0])
        self.assertIn("existing, readable file", lines[0])

    def test_scepEnrollment(self):
        """
        C{enrollment: {url: ..., fingerprint: ..., password: ...}} (IOS
        C{enrollment url}, C{fingerprint}, C{password}) enrolls over SCEP;
        the fingerprint is kept as bare upper-case hex digits.
        """
        config = loadString(MINIMAL.replace(
            "{enrollment: {server: srstcaserver}",
            "{enrollment: {url: 'http://10.1.1.1:80', fingerprint: 'ab12cd34 EF56AB78 0123abcd 4567EF89',"
            " password: cisco}"))
        [identity] = config.pki.identities
        self.assertEqual((identity.enrollment, identity.url, identity.fingerprint, identity.password),
                         ("url", "http://10.1.1.1:80", "AB12CD34EF56AB780123ABCD4567EF89", "cisco"))

    def test_scepEnrollmentProblems(self):
        """
        A URL that is not http://host[:port], a fingerprint that is neither
        MD5 nor SHA-256 hex, and an ECDSA key (SCEP replies are encrypted to
        the requester's RSA key) are rejected, naming the YAML path.
        """
        lines = problemsOf(self, MINIMAL.replace(
            "{enrollment: {server: srstcaserver}",
            "{rsakeypair: {type: ecdsa, bits: 256}, enrollment: {url: 'https://ca.example/', fingerprint: 'AB12'}"))
        self.assertEqual(lines, [
            "router.yaml: pki.trustpoints.srstca.enrollment.url: 'https://ca.example/' is not allowed; "
            "expected an http:// URL with a host, such as http://10.1.1.1:80",
            "router.yaml: pki.trustpoints.srstca.enrollment.fingerprint: 'AB12' is not allowed; expected the CA "
            "certificate's MD5 (32) or SHA-256 (64) hex digits, as show crypto pki certificates prints them",
            "router.yaml: pki.trustpoints.srstca.rsakeypair: {'type': 'ecdsa', 'bits': 256} is not allowed; "
            "SCEP enrollment (enrollment url) needs an RSA key",
        ])

    def test_autoEnroll(self):
        """
        C{enrollment: {..., auto-enroll: PERCENT}} (IOS C{auto-enroll
        [percent]}) is kept; it is off by default and outside 1-100 it is
        rejected naming the YAML path.
        """
        scep = "{enrollment: {url: 'http://10.1.1.1:80', fingerprint: '%s'" % ("AB" * 16,)
        [off] = loadString(MINIMAL.replace("{enrollment: {server: srstcaserver}", scep + "}")).pki.identities
        self.assertIsNone(off.autoEnroll)
        [on] = loadString(MINIMAL.replace("{enrollment: {server: srstcaserver}",
                                          scep + ", auto-enroll: 70}")).pki.identities
        self.assertEqual(on.autoEnroll, 70)
        lines = problemsOf(self, MINIMAL.replace("{enrollment: {server: srstcaserver}", scep + ", auto-enroll: 0}"))
        self.assertEqual(lines, ["router.yaml: pki.trustpoints.srstca.enrollment.auto-enroll: 0 is not allowed; "
                                 "expected an integer from 1 to 100"])

    def test_bareAutoEnroll(self):
        """
        C{auto-enroll: true} is IOS C{auto-enroll} without a percentage:
        renew when the certificate expires (100); C{false} is off.
        """
        scep = "{enrollment: {url: 'http://10.1.1.1:80', fingerprint: '%s'" % ("AB" * 16,)
        for value, percent in (("true", 100), ("false", None)):
            [tp] = loadString(MINIMAL.replace("{enrollment: {server: srstcaserver}",
                                              scep + f", auto-enroll: {value}}}")).pki.identities
            self.assertEqual(tp.autoEnroll, percent)

    def test_enrollmentRetry(self):
        """
        C{enrollment: {..., retry: {period: M, count: N}}} (IOS C{enrollment
        retry period}/C{count}) is kept; IOS's defaults are 1 minute and 10
        polls; out of range is rejected naming the YAML path.
        """
        scep = "{enrollment: {url: 'http://10.1.1.1:80', fingerprint: '%s'" % ("AB" * 16,)
        [default] = loadString(MINIMAL.replace("{enrollment: {server: srstcaserver}", scep + "}")).pki.identities
        self.assertEqual((default.retryPeriod, default.retryCount), (1, 10))
        [tp] = loadString(MINIMAL.replace("{enrollment: {server: srstcaserver}",
                                          scep + ", retry: {period: 5, count: 0}}")).pki.identities
        self.assertEqual((tp.retryPeriod, tp.retryCount), (5, 0))
        lines = problemsOf(self, MINIMAL.replace("{enrollment: {server: srstcaserver}",
                                                 scep + ", retry: {period: 61, count: 101, every: 1}}"))
        self.assertEqual(lines, [
            "router.yaml: pki.trustpoints.srstca.enrollment.retry.period: 61 is not allowed; expected an integer"
            " from 1 to 60",
            "router.yaml: pki.trustpoints.srstca.enrollment.retry.count: 101 is not allowed; expected an integer"
            " from 0 to 100",
            "router.yaml: pki.trustpoints.srstca.enrollment.retry.every: 1 is not allowed; unknown key; known keys"
            " here: count, period",
        ])

    def test_badSubjectName(self):
        """
        A subject name that is not a distinguished name is rejected.
        """
        lines = problemsOf(self, MINIMAL.replace("subject-name: CN=branch-router", "subject-name: branch-router"))
        self.assertEqual(lines, [
            "router.yaml: pki.trustpoints.srstca.subject-name: 'branch-router' is not allowed; "
            "expected a distinguished name such as CN=srstcaserver or CN=router,O=Branch",
        ])

    def test_unknownServer(self):
        """
        An identity that enrolls with a certificate server that is not the
        configured one is rejected.
        """
        lines = problemsOf(self, MINIMAL.replace("{enrollment: {server: srstcaserver}",
                                                 "{enrollment: {server: elsewhere}"))
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("pki.trustpoints.srstca.enrollment: {'server': 'elsewhere'} is not allowed; "
                      "expected {server: <name>} naming the certificate server configured under pki.server",
                      lines[0])


class RevocationCheckConfigTests(SynchronousTestCase):
    """
    C{revocation-check} and C{crl} on phone trustpoints (IOS
    C{revocation-check crl [none]}, C{crl query <url>}).
    """

    def phoneTrustpoint(self, extra):
        ca = self.mktemp()
        with open(ca, "w") as f:
            f.write("checked by preflight\n")
        return MINIMAL.replace("  trustpoints:\n", f"  trustpoints:\n    capf: {{certificates: [{ca}], {extra}}}\n")

    def test_crlNoneFallback(self):
        """
        C{revocation-check: [crl, none]} with a URL: checked, and accepted
        when no CRL can be had.
        """
        tp = loadString(self.phoneTrustpoint(
            "revocation-check: [crl, none], crl: {url: 'http://10.1.1.22/srstcaserver.crl', cache-delete-after: 60}"
        )).pki.phoneTrustpoints[0]
        self.assertEqual(tp.revocationCheck, ("crl", "none"))
        self.assertEqual(tp.crl, CrlSourceConfig(url="http://10.1.1.22/srstcaserver.crl", cacheDeleteAfterMinutes=60))
        self.assertTrue(tp.checksCrl)
        self.assertTrue(tp.crlOptional)

    def test_crlWithoutSource(self):
        """
        C{revocation-check: crl} without C{crl:} loads: the certificates'
        CRL Distribution Points are followed (as IOS does).
        """
        tp = loadString(self.phoneTrustpoint("revocation-check: crl")).pki.phoneTrustpoints[0]
        self.assertEqual((tp.revocationCheck, tp.crl, tp.checksCrl, tp.crlOptional), (("crl",), None, True, False))

    def test_defaultNone(self):
        """
        Without C{revocation-check}, nothing is checked (as in the seed).
        """
        tp = loadString(self.phoneTrustpoint("revocation-check: none")).pki.phoneTrustpoints[0]
        self.assertEqual((tp.revocationCheck, tp.crl, tp.checksCrl), (("none",), None, False))

    def test_errors(self):
        """
        A bad method list, two CRL sources and a non-http URL name their
        YAML paths; a bad single method keeps its old message.
        """
        cases = [
            ("revocation-check: [none, crl], crl: {file: x}",
             "pki.trustpoints.capf.revocation-check: ['none', 'crl'] is not allowed; "
             "expected crl, none, or a list such as [crl, none] (IOS revocation-check crl none)"),
            ("revocation-check: ocsp",
             "pki.trustpoints.capf.revocation-check: 'ocsp' is not allowed; expected one of: none, crl"),
            ("revocation-check: crl, crl: {url: 'ldap://ca/x.crl'}",
             "pki.trustpoints.capf.crl.url: 'ldap://ca/x.crl' is not allowed; "
             "expected an http:// URL with a host, such as http://10.1.1.22/srstcaserver.crl"),
            ("revocation-check: crl, crl: {file: a, url: 'http://ca/x.crl'}",
             "pki.trustpoints.capf.crl: {'file': 'a', 'url': 'http://ca/x.crl'} is not allowed; "
             "expected exactly one of {file: PATH} or {url: http://host[:port]/path}"),
        ]
        for extra, expected in cases:
            self.assertEqual(problemsOf(self, self.phoneTrustpoint(extra)), ["router.yaml: " + expected], extra)
