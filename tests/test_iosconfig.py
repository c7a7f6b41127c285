"""
Tests for L{srst.iosconfig}: C{show running-config} of the whole router and
the IOS import, composed from the packages' sections; and the router's
C{show running-config} command (registered in L{srst.service}) on a running
router.

The seed round trip (L{SeedRoundTripTests}) compares, block by block, every
command the import took with what the router prints back, the security and
the voice sections alike; every line not imported is named with its reason.
"""

from __future__ import annotations

import io
import os
import ssl

import yaml
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.config import loadString
from srst.iosconfig import (
    ChainCertificate,
    credentialsRunningConfig,
    importIosConfig,
    mapAddresses,
    renderRunningConfig,
)
from srst.iostext import parseIosConfig
from srst.service import RouterService, utcNow
from srst.tools.cli import main as cliMain
from tests.routerhelpers import (
    PHONE_CA_DIR,
    ROOT,
    SEED_POLICY,
    bounded,
    routerYaml,
    runCommand,
    startRouter,
    stateDirectory,
    synchronously,
)

SEED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "seed")
SEED_ADDRESSES = {"10.1.1.22": "127.0.0.1", "10.1.1.13": "127.0.0.2"}
"""The seed's router and CallManager, moved to two loopback addresses
(srst-config --map-address): the gateway and its call agent both use port
2427, so they need two addresses, as on the seed's LAN."""


def seedText() -> str:
    """
    The seed's Configuration 1 followed by its Configuration 2.
    """
    parts = []
    for name in ("configuration-1.txt", "configuration-2.txt"):
        with open(os.path.join(SEED, name)) as f:
            parts.append(f.read())
    return "".join(parts)


def commandBlocks(text: str, leaveOut: frozenset[int] = frozenset()) -> dict[str, list[str]]:
    """
    The top-level commands of IOS text with their modes' lines (one blank
    per level), a repeated command's lines merged as IOS merges them.

    @param leaveOut: line numbers to drop (the lines not imported).
    """
    blocks: dict[str, list[str]] = {}

    def lines(line, depth):
        out = []
        for child in line.children:
            if child.lineno not in leaveOut:
                out.append(" " * depth + child.text)
                out += lines(child, depth + 1)
        return out

    for line in parseIosConfig(text):
        if line.lineno not in leaveOut:
            blocks.setdefault(line.text, []).extend(lines(line, 1))
    return blocks


def chainsFromFiles(config) -> dict[str, list[ChainCertificate]]:
    """
    The phone trustpoints' certificates, read from their PEM files.
    """
    chains = {}
    for phone in config.pki.phoneTrustpoints:
        ders = []
        for path in phone.certificates:
            with open(path) as f:
                ders.append(ssl.PEM_cert_to_DER_cert(f.read()))
        chains[phone.name] = [ChainCertificate(der, True) for der in ders]
    return chains


class RenderTests(SynchronousTestCase):
    """
    L{renderRunningConfig} composes the sections in IOS order.
    """

    def test_shippedOrder(self) -> None:
        """
        The shipped etc/router.yaml: hostname, crypto pki, ip http,
        access lists, class and policy maps, control-plane, credentials,
        then srst's own keys as comments, then C{end}.
        """
        with open(os.path.join(ROOT, "etc", "router.yaml")) as f:
            text = f.read()
        cwd = os.getcwd()
        os.chdir(ROOT)
        self.addCleanup(os.chdir, cwd)
        config = loadString(text)
        rendered = renderRunningConfig(config)
        heads = [line for line in rendered.splitlines() if line and not line.startswith((" ", "!"))]
        self.assertEqual(heads, [
            "hostname branch-router",
            "crypto pki server srstcaserver",
            "crypto pki trustpoint srstca",
            "crypto pki trustpoint srstcaserver",
            "crypto pki trustpoint 7970",
            "crypto pki trustpoint PEM",
            "crypto pki trustpoint 7960",
            "ip http server",
            "ip http port 8080",
            "ip http max-connections 16",
            "no ip http secure-server",
            "access-list 140 deny tcp host 127.0.0.1 any eq 2445",
            "access-list 140 permit tcp any any eq 2445",
            "access-list 140 deny ip any any",
            "class-map match-all sccp-class",
            "policy-map control-plane-policy",
            "control-plane",
            "call application alternate DEFAULT",
            "voice-port 1/0/0", "voice-port 1/0/1", "voice-port 1/0/2", "voice-port 1/0/3",
            "voice-port 1/1/0", "voice-port 1/1/1", "voice-port 1/1/2", "voice-port 1/1/3",
            "ccm-manager fallback-mgcp",
            "ccm-manager mgcp",
            "mgcp",
            "mgcp call-agent 127.0.0.1 2727 service-type mgcp version 0.1",
            "mgcp dtmf-relay voip codec all mode out-of-band",
            "mgcp rtp unreachable timeout 1000 action notify",
            "mgcp package-capability rtp-package",
            "mgcp package-capability sst-package",
            "no mgcp package-capability fxr-package",
            "no mgcp timer receive-rtcp",
            "mgcp sdp simple",
            "mgcp validate call-agent source-ipaddr",
            "mgcp fax t38 inhibit",
            "mgcp profile default",
            "dial-peer voice 81235 pots", "dial-peer voice 81234 pots", "dial-peer voice 999100 pots",
            "dial-peer voice 999110 pots", "dial-peer voice 999101 pots",
            "credentials",
            "call-manager-fallback",
            "ephone-dn 1",
            "ephone 1",
            "end",
        ])
        self.assertIn(" enrollment url http://127.0.0.1:8080\n", rendered)
        comments = [line for line in rendered.splitlines() if line.startswith("! srst:")]
        self.assertEqual(comments, [
            "! srst: call-manager-fallback.phone-trustpoints 7970 PEM 7960 srstcaserver",
            "! srst: call-manager-fallback.max-connections-per-host 40",
            "! srst: call-manager-fallback.auto-assign.dn-range 2000-2099",
            "! srst: state-dir var",
            "! srst: admin socket var/srst.sock",
            "! srst: media address 127.0.0.1 rtp-port-range 16384-32767 rtp-unreachable-ms 1000",
            "! srst: http-server address 127.0.0.1",
            "! srst: credentials tls-profile modern handshake-timeout 10 idle-timeout 30",
            "! srst: pki trustpoint 7970 certificates etc/phone-ca/CiscoCA.pem",
            "! srst: pki trustpoint PEM certificates etc/phone-ca/a69d2e04.0",
            "! srst: pki trustpoint 7960 certificates etc/phone-ca/59fe77ccd.0",
        ])
        self.assertTrue(rendered.endswith("!\nend\n"))

    def test_minimal(self) -> None:
        """
        An empty configuration: the hostname, the srst keys, C{end}.
        """
        self.assertEqual(renderRunningConfig(loadString("hostname: r1\n")), "".join(line + "\n" for line in [
            "!", "hostname r1", "!",
            "! srst: state-dir var",
            "! srst: admin socket var/srst.sock",
            "! srst: media address 127.0.0.1 rtp-port-range 16384-32767 rtp-unreachable-ms 1000",
            "!", "end"]))

    def test_credentials(self) -> None:
        """
        C{credentials} prints as the seed has it; nothing without it.
        """
        config = loadString(routerYaml("/tmp/x", credentialsPort=2445))
        self.assertEqual(credentialsRunningConfig(config.credentials), [
            "credentials", " ip source-address 127.0.0.1 port 2445", " trustpoint srstca", "!"])
        self.assertEqual(credentialsRunningConfig(None), [])


class ImportTests(SynchronousTestCase):
    """
    L{importIosConfig}: top-level commands, and what no section takes.
    """

    def test_credentialsAndHostname(self) -> None:
        """
        C{hostname} and the C{credentials} mode (port 2445 when IOS's
        default is left out).
        """
        document, skipped = importIosConfig(
            "hostname branch\ncredentials\n ip source-address 10.1.1.22\n trustpoint srstca\n")
        self.assertEqual((document, skipped), ({"hostname": "branch", "credentials": {
            "ip-source-address": "10.1.1.22", "port": 2445, "trustpoint": "srstca"}}, []))

    def test_reasons(self) -> None:
        """
        Lines no section takes are listed: interfaces and routing with why,
        an ISAKMP policy with IOS's broken defaults as what it became, anything else as having no srst equivalent; a
        C{credentials} block without its address is not imported.
        """
        document, skipped = importIosConfig("""\
interface Loopback0
 ip address 10.9.9.9 255.255.255.255
ip classless
ip route 0.0.0.0 0.0.0.0 10.1.1.1
crypto isakmp policy 1
 authentication pre-share
snmp-server community public RO
credentials
 trustpoint srstca
 ip source-address 10.1.1.22 port x
""")
        self.assertEqual(document, {"crypto": {"isakmp": {"policies": {1: {
            "authentication": "pre-share", "encryption": "aes 256", "hash": "sha", "group": 14}}}}})
        interface = ("addresses are the host's; srst binds the addresses in credentials, call-manager-fallback,"
                     " media and http-server")
        self.assertEqual([str(s) for s in skipped], [
            f"lines 1-2: interface Loopback0 (2 lines): {interface}",
            "line 3: ip classless: routing is the host's: srst does not route",
            "line 4: ip route 0.0.0.0 0.0.0.0 10.1.1.1: routing is the host's: srst does not route",
            "line 5: crypto isakmp policy 1: imported as encryption aes 256, group 14: IOS's default des is broken"
            " (56-bit DES); IOS's default group 1 is broken (768-bit MODP); CallManager's IPsec must change to"
            " match (or write the IOS values with crypto.allow-legacy-crypto: true)",
            "line 7: snmp-server community public RO: no srst equivalent",
            "line 8: credentials: credentials needs ip source-address <address> [port <port>]",
            "line 9: trustpoint srstca: its credentials block is not imported",
            "line 10: ip source-address 10.1.1.22 port x: srst's credentials service has no such setting",
        ])

    def test_bannerAndAfterEnd(self) -> None:
        """
        An unindented banner text is not read as commands: the banner is
        one block not imported (its C{max-ephones 2} does not reach the
        document); the lines after C{end} are listed as after end.
        """
        document, skipped = importIosConfig("""\
hostname branch
banner motd ^C
max-ephones 2
Authorized access only
^C
end
hostname other
ip classless
""")
        self.assertEqual(document, {"hostname": "branch"})
        self.assertEqual([str(s) for s in skipped], [
            "lines 2-5: banner motd ^C (4 lines): banners are not srst configuration",
            "line 7: hostname other: after end",
            "line 8: ip classless: after end",
        ])

    def test_mapAddresses(self) -> None:
        """
        Whole addresses only, in URLs too; an address that is not one is
        refused.
        """
        self.assertEqual(
            mapAddresses("ip address 10.1.1.22 255.255.255.0\n enrollment url http://10.1.1.22:80\n"
                         "host 10.1.1.220 10.1.1.2 110.1.1.22\n", {"10.1.1.22": "127.0.0.1", "10.1.1.2": "::1"}),
            "ip address 127.0.0.1 255.255.255.0\n enrollment url http://127.0.0.1:80\n"
            "host 10.1.1.220 ::1 110.1.1.22\n")
        self.assertRaises(ValueError, mapAddresses, "", {"router": "127.0.0.1"})

    def test_documentOrder(self) -> None:
        """
        The document's keys follow etc/router.yaml's order, whatever the
        order of the IOS text.
        """
        document, _ = importIosConfig(
            "credentials\n ip source-address 10.1.1.22\nip http server\nhostname r\n"
            "crypto pki server ca\naccess-list 10 permit any\n")
        self.assertEqual(list(document), ["hostname", "pki", "credentials", "http-server", "access-lists"])


def _seedImport(directory: str) -> tuple[str, list]:
    """
    Import the seed (Configuration 1 + 2, addresses on loopback), write its
    files into C{directory}.

    @return: the YAML text and the skipped lines.
    """
    files: dict[str, bytes] = {}
    document, skipped = importIosConfig(seedText(), addressMap=SEED_ADDRESSES, certificateDirectory=directory,
                                        files=files)
    for path, data in files.items():
        with open(path, "wb") as f:
            f.write(data)
    return yaml.safe_dump(document, sort_keys=False), skipped


# The seed's lines srst's security sections do not take, and why (their
# children share the reason).
SEED_NOT_IMPORTED = [
    ("database url nvram", "srst keeps the CA database in state-dir (pki/server/<name>)"),
    ("crypto pki certificate chain srstca", "needs the private key: srst enrolls this trustpoint itself at"
     " start-up (the IOS router's key is not in the configuration)"),
    ("crypto pki certificate chain srstcaserver", "srst's certificate server makes its own CA key and certificate"
     " in state-dir (the IOS CA's private key is not in the configuration)"),
    ("no crypto isakmp enable", "srst runs IKE (strongSwan's charon) for the maps under crypto:, and none"
     " without"),
    ("crypto isakmp policy 1", "imported as encryption aes 256, group 14: IOS's default des is broken (56-bit"
     " DES); IOS's default group 1 is broken (768-bit MODP); CallManager's IPsec must change to match (or write"
     " the IOS values with crypto.allow-legacy-crypto: true)"),
    ("crypto ipsec transform-set rtpset esp-des esp-md5-hmac", "imported as esp-aes 256, esp-sha256-hmac: esp-des"
     " is broken (56-bit DES); esp-md5-hmac is broken (MD5); CallManager's IPsec must change to match (or write"
     " the IOS values with crypto.allow-legacy-crypto: true)"),
    ("interface FastEthernet0/0", "addresses are the host's; srst binds the addresses in credentials,"
     " call-manager-fallback, media and http-server"),
    ("interface FastEthernet0/1", "addresses are the host's; srst binds the addresses in credentials,"
     " call-manager-fallback, media and http-server"),
    ("ip classless", "routing is the host's: srst does not route"),
    ("mgcp rtp payload-type g726r16 static", "srst carries G.711 only: no g726r16 payload type to set"),
]

GENERATED = {"hostname Router", "crypto pki certificate chain srstca", "crypto pki certificate chain srstcaserver",
             "mgcp validate call-agent source-ipaddr", "crypto isakmp policy 1",
             "crypto ipsec transform-set rtpset esp-aes 256 esp-sha256-hmac"}
"""What the router prints that the seed's imported lines do not hold: IOS's
default hostname, the certificates srst made itself, the source check
of MGCP commands that srst keeps on (IOS prints it only when set), and the
ISAKMP policy and transform set whose broken algorithms were imported as
modern ones."""

SEED_KEY = "crypto isakmp key cisco123 address 127.0.0.2\n"
"""The seed's pre-shared key line, which srst prints as C{crypto isakmp key
***** address 127.0.0.2} (never a secret)."""


def _withSeedKey(rendered: str) -> str:
    """
    Put the seed's key back in place of the hidden one.
    """
    hidden = "crypto isakmp key ***** address 127.0.0.2\n"
    assert hidden in rendered, rendered
    return rendered.replace(hidden, SEED_KEY)


class SeedRoundTripTests(TestCase):
    """
    The seed's Configuration 1 + 2 import into a YAML file that starts the
    router, and C{show running-config} of that router gives back the seed's
    lines for every imported command.
    """

    def setUp(self) -> None:
        self.directory = stateDirectory(self)
        self.yamlText, self.skipped = _seedImport(self.directory)
        mapped = mapAddresses(seedText(), SEED_ADDRESSES)
        self.leftOut = frozenset().union(*(s.linenos for s in self.skipped))
        self.expected = commandBlocks(mapped, self.leftOut)
        self.seedLines = {n: line.text for line in parseIosConfig(mapped) for n, line in
                          ((each.lineno, each) for each in line.walk())}

    def test_skippedWithReasons(self) -> None:
        """
        What is not imported: the IPsec lines srst changes or does not run
        (C{no crypto isakmp enable}, the policy and transform set imported
        with modern algorithms), the interfaces, routing, the private-key
        chains, the CA database location and the G.726 payload type; a
        mode left out whole is one entry with its lines' range.
        """
        heads = {}
        for line in parseIosConfig(mapAddresses(seedText(), SEED_ADDRESSES)):
            for each in line.walk():
                heads[each.lineno] = line
        named = []
        for s in self.skipped:
            head = heads[s.lineno]
            if s.lineno == head.lineno or s.text == "database url nvram":
                named.append((s.text, s.reason))
            else:
                self.assertEqual(s.reason, [r for t, r in SEED_NOT_IMPORTED if t == head.text][0], s)
        self.assertEqual(named, SEED_NOT_IMPORTED)
        blocks = {s.text: (s.lineno, s.lastLine, s.count) for s in self.skipped if s.count > 1}
        self.assertEqual(blocks, {
            "crypto pki certificate chain srstca": (65, 100, 36),
            "crypto pki certificate chain srstcaserver": (101, 120, 20),
            "interface FastEthernet0/0": (232, 235, 4),
            "interface FastEthernet0/1": (238, 242, 5),
        })

    def assertGivesBack(self, rendered: str) -> None:
        """
        Every imported seed command comes back with its mode's lines; the
        router adds only L{GENERATED}.
        """
        actual = commandBlocks(rendered)
        for head, lines in self.expected.items():
            self.assertIn(head, actual)
            self.assertEqual(actual[head], lines, head)
        self.assertEqual(set(actual) - set(self.expected), GENERATED - {
            head for head in GENERATED if head not in actual})

    def test_yamlGivesBackTheSeed(self) -> None:
        """
        The imported YAML, rendered with its phone trustpoints'
        certificates, is the seed's imported commands.
        """
        config = loadString(self.yamlText)
        self.assertGivesBack(_withSeedKey(renderRunningConfig(config, chains=chainsFromFiles(config))))

    @bounded(timeout=30)
    async def test_routerGivesBackTheSeed(self):
        """
        The router starts from the imported YAML (ports the system picks; the
        seed grants manually, so the test grants srstca's request as the
        operator would) and its C{show running-config} gives back the
        seed's imported commands.
        """
        document = yaml.safe_load(self.yamlText)
        # As README says: IOS's port 80 (root only: the test takes any
        # port) and a certificate server that grants manually.
        self.assertEqual((document["http-server"]["port"], document["pki"]["server"]["grant"]), (80, "manual"))
        document["state-dir"] = self.directory
        document["admin"] = {"socket": os.path.join(self.directory, "srst.sock")}
        document["credentials"]["port"] = 0
        document["call-manager-fallback"]["port"] = 0
        document["http-server"]["port"] = 0
        # No charon here: the router says IPsec is down and goes on (never a charon of this host's).
        document["crypto"]["vici-socket"] = os.path.join(self.directory, "charon.vici")
        self.assertEqual(document["mgcp"]["bind"], {"host": "127.0.0.1", "port": 2427})
        document["mgcp"]["bind"]["port"] = 0  # an srst-only key (a comment in running-config)
        config = loadString(yaml.safe_dump(document, sort_keys=False), "imported.yaml")
        from twisted.internet import reactor
        service = RouterService(config, reactor, now=utcNow, runInThread=synchronously,
                                callFromThread=reactor.callFromThread)
        service.startService()
        self.addCleanup(service.stopService)
        granted = await runCommand(service, "crypto", "pki", "server", "srstcaserver", "grant", "all")
        self.assertIn("% Request 1 granted", granted.text)
        await service.whenReady()
        result = await runCommand(service, "show", "running-config")
        # Undo the test's own ports (IOS's 2445 and 80 in the seed).
        rendered = (result.text.replace("ip http port 0\n", "")
                    .replace("credentials\n ip source-address 127.0.0.1 port 0\n",
                             "credentials\n ip source-address 127.0.0.1 port 2445\n")
                    .replace(" ip source-address 127.0.0.1 port 0\n", " ip source-address 127.0.0.1 port 2000\n")
                    .replace("http://127.0.0.1:0\n", "http://127.0.0.1:80\n"))
        self.assertGivesBack(_withSeedKey(rendered) + "\n")
        self.assertIn("crypto pki certificate chain srstca\n certificate 02\n", rendered)


class ShowRunningConfigTests(TestCase):
    """
    C{srst-cli show running-config} on a running router.
    """

    @bounded
    async def test_shippedSections(self):
        """
        The router prints its sections, its trustpoints' certificates as
        hex blocks, and no private key.
        """
        directory = stateDirectory(self)
        extra = SEED_POLICY.format(port=2445) + "\nhttp-server: {address: 127.0.0.1, port: 0}\n"
        service = await startRouter(self, routerYaml(directory, extra=extra))
        stdout, stderr = io.StringIO(), io.StringIO()
        code = await deferToThread(cliMain, ["--socket", service.config.admin.socket, "show", "running-config"],
                                   stdout, stderr)
        out = stdout.getvalue()
        self.assertEqual((code, stderr.getvalue()), (0, ""))
        for head in ("hostname branch-router\n", "crypto pki server srstcaserver\n",
                     "crypto pki trustpoint srstca\n enrollment url http://127.0.0.1:0\n",
                     "crypto pki trustpoint 7970\n enrollment terminal\n",
                     "crypto pki certificate chain srstca\n certificate 02\n",
                     "crypto pki certificate chain srstcaserver\n certificate ca 01\n",
                     "crypto pki certificate chain 7970\n certificate ca 353FB24BD70F14A346C1F3A9AC725675\n",
                     "ip http server\nip http port 0\n",
                     "access-list 140 deny tcp host 127.0.0.1 any eq 2445\n",
                     "control-plane\n service-policy input control-plane-policy\n",
                     "credentials\n ip source-address 127.0.0.1 port 0\n trustpoint srstca\n"):
            self.assertIn(head, out)
        self.assertTrue(out.endswith("end\n"))
        self.assertNotIn("PRIVATE KEY", out)
        hexOut = "".join(out.split())
        with open(os.path.join(directory, "pki", "server", "srstcaserver", "ca.key"), "rb") as f:
            caKey = load_pem_private_key(f.read(), None)
        for key in (service.identities["srstca"].privateKey, caKey):
            secret = key.private_numbers().private_value.to_bytes(32, "big").hex().upper()
            self.assertNotIn(secret, hexOut)
            self.assertNotIn(secret[:16], hexOut)
        with open(os.path.join(PHONE_CA_DIR, "CiscoCA.pem")) as f:
            seedDer = ssl.PEM_cert_to_DER_cert(f.read())
        self.assertIn(seedDer.hex().upper(), hexOut)
