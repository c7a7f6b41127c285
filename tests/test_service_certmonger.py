"""
certmonger's daemon enrolls against the router's SCEP server end to end
(issue 15, first acceptance bullet): the real router with C{http-server:}
on 127.0.0.1, and certmonger with C{getcert add-scep-ca} and C{getcert
request}, as an administrator of a Linux host would use it.

Everything runs in a private world under a temporary directory: a private
D-Bus daemon (its own configuration, which listens only on a UNIX socket in
that directory and activates no services, so C{getcert} can only reach the
certmonger this test started), certmonger on that bus (C{-s -n}) with its
request, CA and local-CA directories, lock file and C{TMPDIR} moved there by
its C{CERTMONGER_*} environment variables (as root it would otherwise write
to C{/var/lib/certmonger}), and C{HOME} there.  Every process is started
with C{reactor.spawnProcess} and terminated in cleanup.

Waits are events, not polls: C{gdbus wait} returns once certmonger owns its
bus name, and C{getcert request -w} / C{getcert resubmit -w} return once the
request leaves its submitting states (issued, pending at the CA, or
rejected); each is bounded by L{tests.routerhelpers.within} and C{getcert
--wait-timeout}.

Two things certmonger 0.79 needs, found by these tests:

  - C{getcert add-scep-ca -N CA.pem}: given only the router's GetCACert
    answer (one self-signed CA certificate, no RA, as IOS answers),
    certmonger keeps it as the RA (encryption) certificate only, and
    scep-submit then verifies no CertRep: "Error: failed to verify signature
    on server response. error:10800075:PKCS7 routines::certificate verify
    error" (state CA_UNREACHABLE).  The administrator names the CA
    certificate they checked, as IOS's C{crypto pki authenticate} does.
  - A pending request is polled with C{getcert resubmit}: it sends the
    PKCSReq again now, with the same transactionID, which the router answers
    as a poll of that request (L{srst.pki.scepserver}); certmonger's own
    CertPoll of a pending request comes on its internal schedule, which a
    test cannot wait for.
"""

from __future__ import annotations

import os
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from tests.routerhelpers import bounded, routerYaml, runCommand, startRouter, stateDirectory, within
from tests.toolhelpers import requireTool

BUS_NAME = "org.fedorahosted.certmonger"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
"""A session bus with no service directories: nothing is bus-activated."""

SUBJECT = "CN=SEP001122334455"


class Tool(ProcessProtocol):
    """
    A spawned program: its output, and a L{Deferred} firing with C{(out,
    err, exit code)} when it ends.
    """

    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.ended: Deferred[tuple[str, str, int | None]] = Deferred()
        self.firstLine: Deferred[str] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.out += data
        if b"\n" in self.out and not self.firstLine.called:
            self.firstLine.callback(self.out.split(b"\n", 1)[0].decode("utf-8"))

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Failure) -> None:
        code = 0 if reason.check(ProcessDone) else reason.value.exitCode
        self.ended.callback((self.out.decode("utf-8", "replace"), self.err.decode("utf-8", "replace"), code))


class GetcertEnrollmentTests(TestCase):
    """
    C{certmonger} + C{getcert} against the router's SCEP server: automatic
    grant with the one-time password, manual grant after a poll, rejection.
    """

    timeout = 60

    def setUp(self) -> None:
        self.tools = {name: requireTool(name) for name in ("certmonger", "getcert", "dbus-daemon", "gdbus")}
        self.tmp = stateDirectory(self)  # short: a UNIX socket path lives in it
        self.certmonger: Tool | None = None

    def spawn(self, name: str, *arguments: str) -> Tool:
        """
        Start C{name} in the private world; it is terminated in cleanup.
        """
        tool = Tool()
        transport = reactor.spawnProcess(tool, self.tools[name], [name, *arguments],  # type: ignore[attr-defined]
                                         env=self.env, path=self.tmp)

        def stop() -> Deferred | None:
            if tool.ended.called:
                return None
            try:
                transport.signalProcess("TERM")
            except ProcessExitedAlready:
                return None
            return within(tool.ended, f"{name} to exit after SIGTERM")
        self.addCleanup(stop)
        return tool

    @bounded(timeout=30)
    def runTool(self, name: str, *arguments: str) -> Any:
        """
        Run a program to its end.

        @return: its standard output; the test fails when it exits non-zero.
        """
        out, err, code = yield self.spawn(name, *arguments).ended
        if code != 0:
            log = self.certmonger.err.decode("utf-8", "replace")[-6000:] if self.certmonger is not None else ""
            self.fail(f"{name} {' '.join(arguments)} exited {code}: {out}{err}\ncertmonger's log ends:\n{log}")
        return out

    @bounded(timeout=20)
    def startCertmonger(self) -> Any:
        """
        A private D-Bus daemon and certmonger on it, with every file they
        write in C{self.tmp}.
        """
        for d in ("home", "requests", "cas", "local", "tmp"):
            os.mkdir(os.path.join(self.tmp, d))
        config = os.path.join(self.tmp, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG.format(socket=os.path.join(self.tmp, "bus")))
        self.env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                    "HOME": os.path.join(self.tmp, "home"),
                    "TMPDIR": os.path.join(self.tmp, "tmp"),
                    "CERTMONGER_CONFIG_DIR": os.path.join(self.tmp, "home"),
                    "CERTMONGER_REQUESTS_DIR": os.path.join(self.tmp, "requests"),
                    "CERTMONGER_CAS_DIR": os.path.join(self.tmp, "cas"),
                    "CERTMONGER_LOCAL_CA_DIR": os.path.join(self.tmp, "local"),
                    "CERTMONGER_TMPDIR": os.path.join(self.tmp, "tmp"),
                    "CERTMONGER_SYSTEM_LOCK_FILE": os.path.join(self.tmp, "certmonger.lock")}
        bus = self.spawn("dbus-daemon", f"--config-file={config}", "--print-address", "--nofork")
        address = yield bus.firstLine
        self.env["DBUS_SESSION_BUS_ADDRESS"] = address
        self.certmonger = self.spawn("certmonger", "-s", "-n", "-d", "1")
        yield self.runTool("gdbus", "wait", "--session", "--timeout", "15", BUS_NAME)

    @bounded(timeout=30)
    def startRouter(self, grant: str) -> Any:
        """
        The router with the certificate server (an RSA CA: SCEP envelopes
        need RSA) and C{http-server:} on 127.0.0.1; with C{grant} manual it
        first starts once with grant auto to enroll its own trustpoint.
        """
        self.stateDir = stateDirectory(self)
        yaml = routerYaml(self.stateDir, extra="http-server: {address: 127.0.0.1, port: 0}\n").replace(
            "    grant: auto\n    rsakeypair: {type: ecdsa, bits: 256}\n",
            "    grant: auto\n    rsakeypair: {type: rsa, bits: 2048}\n")
        router = yield startRouter(self, yaml)
        if grant != "auto":
            yield router.stopService()
            router = yield startRouter(self, yaml.replace("    grant: auto\n", f"    grant: {grant}\n"))
        self.router = router
        with open(os.path.join(self.stateDir, "pki", "server", "srstcaserver", "ca.crt"), "rb") as f:
            caPem = f.read()
        self.ca = x509.load_pem_x509_certificate(caPem)
        # -N: the CA certificate the administrator checked (IOS: crypto pki authenticate).  Without it
        # certmonger 0.79 keeps a lone GetCACert certificate only as the RA (encryption) certificate
        # and scep-submit cannot verify any CertRep: "Error: failed to verify signature on server
        # response. error:10800075:PKCS7 routines::certificate verify error" (state CA_UNREACHABLE).
        caFile = os.path.join(self.tmp, "srstcaserver.pem")
        with open(caFile, "wb") as f:
            f.write(caPem)
        yield self.runTool("getcert", "add-scep-ca", "-s", "-c", "SRST", "-N", caFile,
                           "-u", "http://127.0.0.1:%d/cgi-bin/pkiclient.exe" % (router.ports()["http"],))
        return router

    def request(self, *arguments: str) -> Any:
        """
        C{getcert request -w}: a file-based key and certificate in the
        temporary directory, tracked as C{phone}.
        """
        self.certFile = os.path.join(self.tmp, "phone.crt")
        self.keyFile = os.path.join(self.tmp, "phone.key")
        return self.runTool("getcert", "request", "-s", "-c", "SRST", "-I", "phone", "-f", self.certFile,
                        "-k", self.keyFile, "-N", SUBJECT, "-w", "--wait-timeout", "20", *arguments)

    @bounded(timeout=30)
    def status(self) -> Any:
        """
        @return: certmonger's C{status:} and C{ca-error:} lines for the request.
        """
        out = yield self.runTool("getcert", "list", "-s", "-i", "phone")
        return re.findall(r"^\s*(status|ca-error): (.*)$", out, re.M)

    def assertIssued(self) -> None:
        """
        The certificate certmonger saved is the router's CA's, for the
        requested subject, and its key is the saved key's.
        """
        with open(self.certFile, "rb") as f:
            certificate = x509.load_pem_x509_certificate(f.read())
        certificate.verify_directly_issued_by(self.ca)
        self.assertEqual(certificate.subject.rfc4514_string(), SUBJECT)
        with open(self.keyFile, "rb") as f:
            key = load_pem_private_key(f.read(), None)
        self.assertEqual(certificate.public_key(), key.public_key())

    @bounded(timeout=60)
    def test_grantAuto(self) -> Any:
        """
        With C{grant: auto} C{getcert request} is issued at once: certmonger
        monitors the certificate, which the router's CA signed, and keeps
        its state in the temporary directory.
        """
        yield self.startCertmonger()
        yield self.startRouter("auto")
        yield self.request()
        self.assertEqual((yield self.status()), [("status", "MONITORING")])
        self.assertIssued()
        cas = os.path.join(self.tmp, "cas")
        saved = []
        for name in os.listdir(cas):
            with open(os.path.join(cas, name)) as f:
                saved.append(f.read())
        self.assertIn("id=SRST", "".join(saved))
        self.assertEqual(len(os.listdir(os.path.join(self.tmp, "requests"))), 1)

    @bounded(timeout=60)
    def test_oneTimePasswordWithGrantManual(self) -> Any:
        """
        C{getcert request -L} with the password from C{crypto pki server
        srstcaserver password generate} is issued at once even with C{grant:
        manual}.
        """
        yield self.startCertmonger()
        yield self.startRouter("manual")
        password = (yield runCommand(self.router, "crypto", "pki", "server", "srstcaserver", "password",
                                     "generate", "5")).data["password"]
        yield self.request("-L", password)
        self.assertEqual((yield self.status()), [("status", "MONITORING")])
        self.assertIssued()
        self.assertEqual(self.router.certificateServer.pendingRequests(), [])

    @bounded(timeout=60)
    def requestPending(self) -> Any:
        """
        With C{grant: manual}, C{getcert request -w} ends with certmonger
        waiting at the CA (exit 5, C{CA_WORKING}) and the router lists the
        request as pending, request 1.
        """
        out, err, code = yield self.spawn(
            "getcert", "request", "-s", "-c", "SRST", "-I", "phone", "-f", os.path.join(self.tmp, "phone.crt"),
            "-k", os.path.join(self.tmp, "phone.key"), "-N", SUBJECT, "-w", "--wait-timeout", "20").ended
        self.assertEqual(code, 5, out + err)
        self.assertEqual((yield self.status()), [("status", "CA_WORKING")])
        shown = (yield runCommand(self.router, "crypto", "pki", "server", "srstcaserver", "info", "requests")).text
        self.assertEqual(re.findall(r"^(\d+) +(\w+) +\w+ (.*)$", shown, re.M), [("1", "pending", SUBJECT)])

    @bounded(timeout=30)
    def resubmit(self) -> Any:
        """
        C{getcert resubmit -w}: certmonger sends its request again now (its
        own poll waits for hours); the router answers it as a poll of the
        same transaction.

        @return: getcert's output and exit code.
        """
        out, err, code = yield self.spawn("getcert", "resubmit", "-s", "-i", "phone", "-w",
                                          "--wait-timeout", "20").ended
        return out + err, code

    @bounded(timeout=60)
    def test_manualGrantAfterPoll(self) -> Any:
        """
        With C{grant: manual} the request is pending; a poll before the
        operator acts stays pending (no second request is queued); after
        C{crypto pki server srstcaserver grant 1} the next poll is issued
        and certmonger monitors the certificate.
        """
        yield self.startCertmonger()
        yield self.startRouter("manual")
        self.certFile = os.path.join(self.tmp, "phone.crt")
        self.keyFile = os.path.join(self.tmp, "phone.key")
        yield self.requestPending()
        out, code = yield self.resubmit()
        self.assertEqual(code, 5, out)
        self.assertEqual([r.id for r in self.router.certificateServer.pendingRequests()], [1])
        yield runCommand(self.router, "crypto", "pki", "server", "srstcaserver", "grant", "1")
        out, code = yield self.resubmit()
        self.assertEqual(code, 0, out)
        self.assertEqual((yield self.status()), [("status", "MONITORING")])
        self.assertIssued()

    @bounded(timeout=60)
    def test_rejected(self) -> Any:
        """
        After C{crypto pki server srstcaserver reject 1} certmonger's next
        poll is refused: the request is C{CA_REJECTED} with scep-submit's
        text for failInfo badRequest, and no certificate is written.
        """
        yield self.startCertmonger()
        yield self.startRouter("manual")
        yield self.requestPending()
        yield runCommand(self.router, "crypto", "pki", "server", "srstcaserver", "reject", "1")
        out, code = yield self.resubmit()
        self.assertNotEqual(code, 0, out)
        self.assertEqual((yield self.status()), [
            ("status", "CA_REJECTED"),
            ("ca-error", "Transaction either is not permitted or is not supported by server.")])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "phone.crt")))
