"""
The seed's shape across processes: a second srst, run as the operator runs
it (C{twistd -n srst --config ...} in its own process), enrolls its
C{srstca} trustpoint over SCEP with the first router's certificate server
(L{srst.pki.scepenroll}), then presents the certificate it got.
"""

from __future__ import annotations

import io
import json
import os

from twisted.internet import reactor
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from srst.pki.ca import certificateFingerprint
from srst.tools import cli
from srst.tools.ccm import fetchCredentials
from tests.routerhelpers import bounded, runCommand, spawnRouter, startRouter, stateDirectory
from tests.test_service import httpRouterYaml, opensslVerifiesPresentedChain, readCA, scepRouterYaml


class SecondProcessEnrollmentTests(TestCase):
    """
    Router A (in this process) runs the certificate server with C{grant
    auto} on its C{http-server}; router B is a separate twistd process.
    """

    timeout = 60

    @bounded(timeout=45)
    async def test_secondProcessEnrollsWithFirst(self):
        """
        B, started by twistd with C{enrollment: {url: <A>, fingerprint:
        <A's CA>}}, enrolls with A before it says it is ready (the last serial A
        issued is B's certificate); B's C{srst-cli show crypto pki
        certificates srstca} names A's CA as issuer; the chain B presents on
        its credentials port is one C{openssl verify} accepts against A's CA,
        and CallManager's credentials fetch (checked against A's CA and B's
        address) gets that certificate.
        """
        stateA = stateDirectory(self)
        a = await startRouter(self, httpRouterYaml(stateA).replace(
            "    grant: auto\n    rsakeypair: {type: ecdsa, bits: 256}\n",
            "    grant: auto\n    rsakeypair: {type: rsa, bits: 2048}\n"))
        ca = readCA(stateA)
        fingerprint = "".join(certificateFingerprint(ca, "sha256").split())
        url = "http://127.0.0.1:%d" % (a.ports()["http"],)
        stateB = stateDirectory(self)
        b, stop = spawnRouter(self, scepRouterYaml(stateB, url, fingerprint), stateB)
        ports = await b.ready.addTimeout(40, reactor)
        self.assertIn(f"trustpoint srstca: enrolling over SCEP with {url}", b.text())

        out, err = io.StringIO(), io.StringIO()
        code = await deferToThread(cli.main, ["--socket", os.path.join(stateB, "srst.sock"), "--json", "show",
                                              "crypto", "pki", "certificates", "srstca"], out, err)
        self.assertEqual((code, err.getvalue()), (0, ""))
        shown = json.dumps(json.loads(out.getvalue()))
        self.assertIn("cn=srstcaserver", shown.lower())
        self.assertIn("cn=router-b", shown.lower())

        presented = await opensslVerifiesPresentedChain(self, ports["credentials"], ca)
        presented[0].verify_directly_issued_by(ca)
        self.assertEqual(presented[0].subject.rfc4514_string(), "CN=router-b")
        server = await runCommand(a, "show", "crypto", "pki", "server")
        self.assertIn(f"Last certificate issued serial number: 0x{presented[0].serial_number:X}",
                      server.text.splitlines())
        result = await fetchCredentials(reactor, "127.0.0.1", ports["credentials"], caCertificates=[ca])
        self.assertTrue(result.matches)
        self.assertEqual(result.handshakeCertificate, presented[0])

        await stop()
        self.assertNotIn("Traceback", b.text())
