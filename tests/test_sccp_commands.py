"""
Tests for L{srst.sccp.commands}: C{show ephone} in the seed's format, its
JSON, and the C{debug ephone} switches; C{show ephone offhook} rendered
from calls set up by the engine between in-memory SCCP phones (the helpers
of L{tests.callhelpers}).
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.calls.dialplan import DialplanPattern, DialplanPatterns
from srst.admin.commands import CommandError, CommandResult, CommandTable, DebugRequest
from srst.sccp import messages as m
from srst.sccp.commands import (
    MediaCounters,
    ephoneData,
    registerOffhookCommand,
    registerSccpCommands,
    renderEphone,
    routerMediaCounters,
    showEphones,
)
from srst.sccp.constants import Codec, LampMode, SoftKeyEvent, Stimulus, sentByPhone
from srst.sccp.registry import Ephone, EphoneRegistry, Line, LineAssignment
from tests.callhelpers import (
    A_REF,
    MAC_A,
    MAC_B,
    MAC_C,
    PORTS,
    CallRouter,
    CallSetup,
    Commands,
    FakeEndpoint,
    callConfig,
    connected,
    dial,
)
from tests.pcap import buildPcap
from tests.test_sccp_registry import DAY, EPOCH, clockAt, registerDirectly
from tests.test_sccp_station import CONFIGURED_MAC, Router, makeConfig
from tests.toolhelpers import tsharkLines

SEED_SHOW_EPHONE = """\
ephone-1 Mac:1000.1111.0002 TCP socket:[5] activeLine:0 REGISTERED in SCCP ver 5 + Authentication + Encryption with TLS connection
mediaActive:0 offhook:0 ringing:0 reset:0 reset_sent:0 paging 0 debug:0
IP:10.1.1.40 32626 7970 keepalive 390 max_line 8
button 1: dn 14 number 2002 CM Fallback CH1 IDLE
ephone-2 Mac:1000.1111.000B TCP socket:[12] activeLine:0 REGISTERED in SCCP ver 5 + Authentication + Encryption with TLS connection
mediaActive:0 offhook:0 ringing:0 reset:0 reset_sent:0 paging 0 debug:0
IP:10.1.1.40 32718 7970 keepalive 390 max_line 8
button 1: dn 21 number 2011 CM Fallback CH1 IDLE
ephone-3 Mac:1000.1111.000A TCP socket:[16] activeLine:0 REGISTERED in SCCP ver 5 + Authentication + Encryption with TLS connection
mediaActive:0 offhook:0 ringing:0 reset:0 reset_sent:0 paging 0 debug:0
IP:10.1.1.40 32862 7970 keepalive 390 max_line 8
button 1: dn 2 number 2010 CM Fallback CH1 IDLE"""
"""
The seed's C{show ephone} sample (secure-srst-configuration-example.txt),
with the 80-column terminal wrap after C{REGISTERED in} undone and the
trailing spaces dropped.
"""


def seedEphone(number: int, mac: str, socket: int, port: int, dnTag: int, dn: str,
               secure: bool = True) -> Ephone:
    """@return: a registered 7970 like the seed's."""
    return Ephone(number, mac, deviceName="SEP" + mac, socket=socket, peerHost="10.1.1.40", peerPort=port,
                  deviceType=30006, model="7970", maxProtocolVersion=5, protocolVersion=5, keepalives=390,
                  maxLine=8, secure=secure, lines=[Line(LineAssignment(1, 1, dn, dnTag), ["IDLE"])],
                  station=object())


class ShowEphoneTests(SynchronousTestCase):
    """
    C{show ephone}.
    """

    def test_seedSecurePhones(self) -> None:
        """
        Three secure phones print exactly as the seed's sample.
        """
        ephones = [seedEphone(1, "100011110002", 5, 32626, 14, "2002"),
                   seedEphone(2, "10001111000B", 12, 32718, 21, "2011"),
                   seedEphone(3, "10001111000A", 16, 32862, 2, "2010")]
        self.assertEqual(showEphones(ephones).text, SEED_SHOW_EPHONE)

    def test_clearTextPhone(self) -> None:
        """
        A clear-text phone's record has no authentication/encryption part.
        """
        ephone = seedEphone(4, "001122334455", 7, 40000, 3, "2000", secure=False)
        self.assertEqual(renderEphone(ephone), [
            "ephone-4 Mac:0011.2233.4455 TCP socket:[7] activeLine:0 REGISTERED in SCCP ver 5",
            "mediaActive:0 offhook:0 ringing:0 reset:0 reset_sent:0 paging 0 debug:0",
            "IP:10.1.1.40 40000 7970 keepalive 390 max_line 8",
            "button 1: dn 3 number 2000 CM Fallback CH1 IDLE",
        ])

    def test_doNotDisturb(self) -> None:
        """
        A phone in do-not-disturb ends its C{mediaActive} line with C{DnD}
        as IOS marks it, and says C{"dnd": true} in the JSON facts.
        """
        ephone = seedEphone(4, "001122334455", 7, 40000, 3, "2000", secure=False)
        self.assertFalse(ephoneData(ephone)["dnd"])
        ephone.dnd = True
        self.assertEqual(renderEphone(ephone)[1],
                         "mediaActive:0 offhook:0 ringing:0 reset:0 reset_sent:0 paging 0 debug:0 DnD")
        self.assertTrue(ephoneData(ephone)["dnd"])

    def test_namedDualLine(self) -> None:
        """
        A line with a configured name prints the name, and every channel of
        a dual-line number is listed.
        """
        ephone = seedEphone(1, "100011110002", 5, 32626, 1, "2002", secure=False)
        ephone.lines = [Line(LineAssignment(1, 1, "2002", 1, "2002", "Reception"), ["IDLE", "IDLE"])]
        self.assertEqual(renderEphone(ephone)[3], "button 1: dn 1 number 2002 Reception CH1 IDLE CH2 IDLE")

    def test_unregistered(self) -> None:
        """
        A configured phone that never registered prints socket -1,
        UNREGISTERED and its configured buttons.
        """
        router = Router()
        self.assertEqual(showEphones(router.registry.ephones()).text, "\n".join([
            "ephone-1 Mac:1000.1111.0002 TCP socket:[-1] activeLine:0 UNREGISTERED",
            "mediaActive:0 offhook:0 ringing:0 reset:0 reset_sent:0 paging 0 debug:0",
            "IP:0.0.0.0 0 Unknown keepalive 0 max_line 0",
            "button 1: dn 1 number 2002 Reception CH1 IDLE",
        ]))

    def test_fromRegistration(self) -> None:
        """
        A phone registered over SCCP shows its socket, address, model,
        version and keepalive count.
        """
        router = Router()
        phone = router.connect(host="10.1.1.40", port=32626)
        phone.register("SEP0011223344AA")
        phone.send(m.KeepAlive(), m.KeepAlive())
        [ephone] = router.registry.registeredEphones()
        self.assertEqual(renderEphone(ephone), [
            "ephone-2 Mac:0011.2233.44AA TCP socket:[1] activeLine:0 REGISTERED in SCCP ver 5",
            "mediaActive:0 offhook:0 ringing:0 reset:0 reset_sent:0 paging 0 debug:0",
            "IP:10.1.1.40 32626 7970 keepalive 2 max_line 8",
            "button 1: dn 2 number 2000 CM Fallback CH1 IDLE",
        ])


class CommandTableTests(SynchronousTestCase):
    """
    The commands as registered on the admin table.
    """

    def setUp(self) -> None:
        self.router = Router(makeConfig())
        self.table = CommandTable()
        registerSccpCommands(self.table, self.router.registry, [self.router.plain])
        self.router.connect().register("SEP0011223344AA")

    def execute(self, words: str):  # type: ignore[no-untyped-def]
        command, variables = self.table.lookup(words.split())
        return command.handler(**variables)

    def test_showEphoneFilters(self) -> None:
        """
        C{show ephone} lists every known phone, C{show ephone registered}
        and C{unregistered} the ones in that state.
        """
        self.assertEqual([e["ephone"] for e in self.execute("show ephone").data["ephones"]], [1, 2])
        self.assertEqual([e["ephone"] for e in self.execute("show ephone registered").data["ephones"]], [2])
        self.assertEqual([e["ephone"] for e in self.execute("show ephone unregistered").data["ephones"]], [1])
        self.assertTrue(self.execute("show ephone registered").text.startswith("ephone-2 Mac:0011.2233.44AA"))

    def test_json(self) -> None:
        """
        The JSON data carries the same facts as the text, and the listener
        counters; it serialises.
        """
        data = self.execute("show ephone registered").data
        json.dumps(data)
        [ephone] = data["ephones"]
        self.assertEqual({k: ephone[k] for k in ("mac", "socket", "registered", "protocolVersion", "secure",
                                                 "ip", "port", "model", "keepalive", "maxLine")},
                         {"mac": "0011.2233.44AA", "socket": 1, "registered": True, "protocolVersion": 5,
                          "secure": False, "ip": "10.1.1.40", "port": 32626, "model": "7970", "keepalive": 0,
                          "maxLine": 8})
        self.assertEqual(ephone["buttons"], [{"button": 1, "instance": 1, "dnTag": 2, "number": "2000",
                                              "label": "", "name": "CM Fallback", "channels": ["IDLE"]}])
        self.assertEqual(data["listeners"][0]["connectionsAccepted"], 1)
        self.assertEqual(self.execute("show ephone").data["ephones"][0]["mac"], "1000.1111.0002")

    def test_debugCommands(self) -> None:
        """
        C{debug ephone register} and C{debug ephone state} stream their
        namespaces with the IOS banners.
        """
        for words, banner, namespace in (
                ("debug ephone register", "EPHONE registration debugging is enabled", "srst.debug.ephone.register"),
                ("debug ephone state", "EPHONE state debugging is enabled", "srst.debug.ephone.state")):
            command, _ = self.table.lookup(words.split())
            self.assertTrue(command.streaming)
            self.assertEqual(command.handler(), DebugRequest(banner, (namespace,)))

    def test_configuredEphoneMac(self) -> None:
        """
        The configured phone is listed under its MAC before it registers.
        """
        self.assertIn("Mac:" + ".".join((CONFIGURED_MAC[:4], CONFIGURED_MAC[4:8], CONFIGURED_MAC[8:])),
                      self.execute("show ephone unregistered").text)


class AutoAssignCommandTests(SynchronousTestCase):
    """
    C{show ephone auto-assign} and C{clear ephone auto-assign}.
    """

    def setUp(self) -> None:
        self.stateDir = self.mktemp()
        os.makedirs(self.stateDir)

    def table(self, **config: Any) -> tuple[CommandTable, EphoneRegistry, Any]:
        """
        @return: a command table over a registry (state directory, a clock
            at L{EPOCH}) where 0011.2233.44AA is registered with 2000,
            0011.2233.44BB unregistered a day ago with 2001 and
            0011.2233.44CC is registering with 2003 held; and that clock.
        """
        clock = clockAt()
        registry = EphoneRegistry(makeConfig(**config), self.stateDir, clock, runInThread=maybeDeferred)
        registerDirectly(registry, "0011223344AA")
        _, station = registerDirectly(registry, "0011223344BB")
        clock.advance(DAY + 3 * 3600)
        registry.unregister(station)
        registerDirectly(registry, "0011223344CC", complete=False)
        clock.advance(DAY)
        table = CommandTable()
        registerSccpCommands(table, registry)
        return table, registry, clock

    def execute(self, table: CommandTable, words: str) -> CommandResult:
        """
        @return: what the command answers (at once: the registry writes
            through a synchronous runner).
        @raise CommandError: what the command refuses with.
        """
        command, variables = table.lookup(words.split())
        result = command.handler(**variables)
        if isinstance(result, Deferred):
            outcome: list[Any] = []
            result.addBoth(outcome.append)
            [answer] = outcome
            if isinstance(answer, Failure):
                answer.raiseException()
            result = answer
        json.dumps(result.data)
        return result

    def test_show(self) -> None:
        """
        The reservations are listed by number with whether the phone is
        registered, how long ago it was last seen and when the reservation
        expires, after the configuration and the count of free numbers (a
        number held for a phone still registering is not free, nor listed).
        """
        table, _, _ = self.table()
        self.assertEqual(self.execute(table, "show ephone auto-assign").text.split("\n"), [
            "auto-assign dn-range 2000-2009 reservation-timeout-days 365: 2 reservations, 6 numbers free",
            "Mac             DN    Registered  Last seen  Expires in",
            "0011.2233.44AA  2000  yes         now        -",
            "0011.2233.44BB  2001  no          1d00h      52w0d",
        ])

    def test_json(self) -> None:
        """
        C{--json} gives the same facts, times in ISO 8601.
        """
        table, _, _ = self.table()
        self.assertEqual(self.execute(table, "show ephone auto-assign").data, {
            "dnRange": "2000-2009", "reservationTimeoutDays": 365, "free": 6, "reservations": [
                {"mac": "0011.2233.44AA", "dn": "2000", "registered": True, "lastSeen": "2024-07-01T12:16:02+00:00",
                 "lastSeenSecondsAgo": 0, "expires": None},
                {"mac": "0011.2233.44BB", "dn": "2001", "registered": False,
                 "lastSeen": "2024-06-30T12:16:02+00:00", "lastSeenSecondsAgo": DAY,
                 "expires": "2025-06-30T12:16:02+00:00"}]})

    def test_showWithoutExpiryOrRange(self) -> None:
        """
        Without expiry the reservations never expire; without auto-assign
        the header says so and the remembered reservations are still listed
        (as last written: an unregistration's time waits for the next write).
        """
        table, _, _ = self.table(reservationTimeoutDays=None)
        lines = self.execute(table, "show ephone auto-assign").text.split("\n")
        self.assertEqual((lines[0], lines[-1]), (
            "auto-assign dn-range 2000-2009 reservation-timeout-days none: 2 reservations, 6 numbers free",
            "0011.2233.44BB  2001  no          1d00h      never"))
        table = CommandTable()
        registerSccpCommands(table, EphoneRegistry(makeConfig(autoAssign=None), self.stateDir,
                                                   clockAt(EPOCH + 2 * DAY), runInThread=maybeDeferred))
        self.assertEqual(self.execute(table, "show ephone auto-assign").text.split("\n"), [
            "auto-assign is not configured: 2 reservations",
            "Mac             DN    Registered  Last seen  Expires in",
            "0011.2233.44AA  2000  no          2d00h      51w6d",
            "0011.2233.44BB  2001  no          2d00h      51w6d",
        ])

    def test_clearOne(self) -> None:
        """
        Clearing the MAC of a phone that is not registered frees its number
        (any MAC spelling); a registered phone's is refused, as is a MAC with
        no reservation or not a MAC at all, with the reason.
        """
        table, registry, _ = self.table()
        result = self.execute(table, "clear ephone auto-assign SEP0011223344bb")
        self.assertEqual((result.text, result.exitCode),
                         ("Cleared the auto-assign reservation of DN 2001 for 0011.2233.44BB", 0))
        self.assertEqual(registry.rememberedDn("0011223344BB"), None)
        for words, message in (
                ("clear ephone auto-assign 0011.2233.44AA",
                 "0011.2233.44AA is registered: DN 2000 stays reserved for it; clear it after the phone unregisters"),
                ("clear ephone auto-assign 0011.2233.44BB", "No auto-assign reservation for 0011.2233.44BB"),
                ("clear ephone auto-assign 0011.2233.44CC", "No auto-assign reservation for 0011.2233.44CC"),
                ("clear ephone auto-assign nonsense",
                 "Invalid MAC address nonsense: expected a MAC such as 1000.1111.0002, or all")):
            error = self.assertRaises(CommandError, self.execute, table, words)
            self.assertEqual(str(error), message)
        self.assertEqual(registry.rememberedDn("0011223344AA"), "2000")

    def test_clearAll(self) -> None:
        """
        C{all} clears every reservation but those of registered phones, and
        says which were kept.
        """
        table, registry, _ = self.table()
        result = self.execute(table, "clear ephone auto-assign all")
        self.assertEqual(result.text.split("\n"), [
            "Cleared 1 auto-assign reservation", "Kept 1 of registered phones: 0011.2233.44AA (DN 2000)"])
        self.assertEqual([s.mac for s in registry.reservations()], ["0011223344AA"])
        self.assertEqual(self.execute(table, "clear ephone auto-assign ALL").text, "Cleared 0 auto-assign reservations\n"
                         "Kept 1 of registered phones: 0011.2233.44AA (DN 2000)")

    def test_clearCannotSave(self) -> None:
        """
        When the file cannot be written, nothing is cleared and the error
        names the file and the reason.
        """
        table, registry, _ = self.table()

        def failing(path: str, data: bytes, mode: int) -> None:
            raise OSError(13, "Permission denied")

        registry._writer = failing
        error = self.assertRaises(CommandError, self.execute, table, "clear ephone auto-assign all")
        self.assertEqual(str(error), f"Cannot save {registry.autoAssignPath}: Permission denied; nothing was cleared")
        self.assertEqual(registry.rememberedDn("0011223344BB"), "2001")


EPHONE_A_SECURE = [
    "ephone-1 Mac:0000.0000.00A1 TCP socket:[1] activeLine:1 REGISTERED in SCCP ver 11"
    " + Authentication + Encryption with TLS connection",
    "mediaActive:1 offhook:1 ringing:0 reset:0 reset_sent:0 paging 0 debug:0",
    "IP:10.1.1.40 30001 7970 keepalive 0 max_line 8",
    "button 1: dn 1 number 2001 Alice CH1 CONNECTED",
]
EPHONE_B_SECURE = [
    "ephone-2 Mac:0000.0000.00B2 TCP socket:[2] activeLine:1 REGISTERED in SCCP ver 11"
    " + Authentication + Encryption with TLS connection",
    "mediaActive:1 offhook:1 ringing:0 reset:0 reset_sent:0 paging 0 debug:0",
    "IP:10.1.1.40 30002 7970 keepalive 0 max_line 8",
    "button 1: dn 2 number 2002 Bob CH1 CONNECTED",
]


class ShowEphoneOffhookTests(SynchronousTestCase):
    """
    C{show ephone offhook}: the C{show ephone} record of each off-hook phone
    followed by the seed's four lines per connected call.
    """

    def test_noPhoneOffHook(self) -> None:
        """
        With registered phones all on hook the command prints nothing and
        lists no phones.
        """
        router = CallRouter()
        router.phone(MAC_A)
        router.phone(MAC_B)
        result = Commands(router).run("show ephone offhook")
        self.assertEqual(result.text, "")
        self.assertEqual(result.data, {"ephones": []})

    def test_secureCall(self) -> None:
        """
        A connected call between two TLS phones prints C{Active Secure
        Call} with each phone's receive address, the other's, the codec line,
        zero counters (the router does not see phone-to-phone media) and the
        calling/called DN tags.
        """
        _, commands = connected(self, secureA=True, secureB=True)
        self.assertEqual(commands.lines("show ephone offhook"), EPHONE_A_SECURE + [
            "Active Secure Call on DN 1 chan 1 :2001 10.1.1.8 25552 to 10.1.1.9 17520 via 10.1.1.9",
            "G711Ulaw64k 160 bytes no vad",
            "Tx Pkts 0 bytes 0 Rx Pkts 0 bytes 0 Lost 0",
            "Jitter 0 Latency 0 callingDn -1 calledDn 2",
        ] + EPHONE_B_SECURE + [
            "Active Secure Call on DN 2 chan 1 :2002 10.1.1.9 17520 to 10.1.1.8 25552 via 10.1.1.8",
            "G711Ulaw64k 160 bytes no vad",
            "Tx Pkts 0 bytes 0 Rx Pkts 0 bytes 0 Lost 0",
            "Jitter 0 Latency 0 callingDn 1 calledDn -1",
        ])

    def test_clearTextCall(self) -> None:
        """
        When either phone is not secure the call is printed as C{Active
        Call} and the header has no security suffix.
        """
        _, commands = connected(self, secureA=True, secureB=False)
        lines = commands.lines("show ephone offhook")
        self.assertIn("Active Call on DN 1 chan 1 :2001 10.1.1.8 25552 to 10.1.1.9 17520 via 10.1.1.9", lines)
        self.assertIn("Active Call on DN 2 chan 1 :2002 10.1.1.9 17520 to 10.1.1.8 25552 via 10.1.1.8", lines)
        self.assertIn("ephone-2 Mac:0000.0000.00B2 TCP socket:[1] activeLine:1 REGISTERED in SCCP ver 11", lines)
        self.assertFalse([line for line in lines if "Secure" in line])

    def test_json(self) -> None:
        """
        C{--json} gives each off-hook phone's C{show ephone} facts and its
        calls with addresses, codec, counters and DN tags.
        """
        _, commands = connected(self, secureA=True, secureB=True)
        data = commands.run("show ephone offhook").data
        self.assertEqual([(e["ephone"], e["offhook"], e["buttons"][0]["channels"]) for e in data["ephones"]],
                         [(1, 1, ["CONNECTED"]), (2, 1, ["CONNECTED"])])
        self.assertEqual(data["ephones"][0]["calls"], [{
            "secure": True, "dnTag": 1, "channel": 1, "number": "2001", "state": "CONNECTED",
            "local": {"ip": "10.1.1.8", "port": 25552}, "remote": {"ip": "10.1.1.9", "port": 17520},
            "via": "10.1.1.9", "codec": "G711Ulaw64k", "packetBytes": 160, "vad": False,
            "txPackets": 0, "txBytes": 0, "rxPackets": 0, "rxBytes": 0, "lost": 0, "jitter": 0, "latency": 0,
            "callingDn": -1, "calledDn": 2,
        }])

    def test_dialling(self) -> None:
        """
        A phone that is off hook and still dialling is listed with its
        C{SEIZE} channel and no call lines; an idle phone is not listed.
        """
        router = CallRouter()
        a = router.phone(MAC_A)
        router.phone(MAC_B)
        a.send(m.OffHook())
        dial(a, "20")
        self.assertEqual(Commands(router).lines("show ephone offhook"), [
            "ephone-1 Mac:0000.0000.00A1 TCP socket:[1] activeLine:1 REGISTERED in SCCP ver 11",
            "mediaActive:0 offhook:1 ringing:0 reset:0 reset_sent:0 paging 0 debug:0",
            "IP:10.1.1.40 30001 7970 keepalive 0 max_line 8",
            "button 1: dn 1 number 2001 Alice CH1 SEIZE",
        ])

    def test_ringing(self) -> None:
        """
        While the call rings only the caller is off hook (C{ALERTING}) and
        no call lines are printed: there is no media yet.
        """
        call = CallSetup(self)
        call.ring()
        lines = Commands(call.router).lines("show ephone offhook")
        self.assertEqual(lines[0].split()[0], "ephone-1")
        self.assertEqual(lines[-1], "button 1: dn 1 number 2001 Alice CH1 ALERTING")
        self.assertEqual(len(lines), 4)

    def test_held(self) -> None:
        """
        A call on hold is still listed; its media is closed, so the
        addresses print as C{0.0.0.0 0}.
        """
        call, commands = connected(self)
        call.a.send(m.SoftKeyEvent(SoftKeyEvent.HOLD, 1, A_REF))
        lines = commands.lines("show ephone offhook")
        self.assertIn("button 1: dn 1 number 2001 Alice CH1 HOLD", lines)
        self.assertIn("Active Call on DN 1 chan 1 :2001 0.0.0.0 0 to 0.0.0.0 0 via 0.0.0.0", lines)
        self.assertIn("Active Call on DN 2 chan 1 :2002 0.0.0.0 0 to 0.0.0.0 0 via 0.0.0.0", lines)

    def test_alaw(self) -> None:
        """
        A call between phones that only offer G.711 A-law shows
        C{G711Alaw64k}.
        """
        router = CallRouter()
        call = CallSetup(self, router=router)
        call.a.send(m.CapabilitiesRes([m.MediaCapability(Codec.G711_ALAW_64K, 40)]))
        call.b.send(m.CapabilitiesRes([m.MediaCapability(Codec.G711_ALAW_64K, 40)]))
        call.a.received()
        call.b.received()
        call.connect()
        commands = Commands(router)
        self.assertEqual(commands.lines("show ephone offhook").count("G711Alaw64k 160 bytes no vad"), 2)
        self.assertEqual({leg["codec"] for leg in commands.run("show voice call status").data["legs"]},
                         {"g711alaw"})

    def test_hungUp(self) -> None:
        """
        Once both phones hang up nothing is off hook.
        """
        call, commands = connected(self)
        call.a.send(m.OnHook())
        call.b.send(m.OnHook())
        self.assertEqual(commands.lines("show ephone offhook"), [])


class RouterMediaCountersTests(SynchronousTestCase):
    """
    L{routerMediaCounters}: the counters of media the router terminates
    for the far end, from the phone's side; none for phones.
    """

    def test_phoneFarEnd(self) -> None:
        """
        A phone's media does not pass through the router: no counters (show
        ephone offhook prints zeros).
        """
        call, _ = connected(self)
        endpoint = call.router.control.endpointFor(call.b.station)
        self.assertIsNone(routerMediaCounters(endpoint))
        self.assertEqual(MediaCounters(), MediaCounters(0, 0, 0, 0, 0, 0, 0))

    def test_noStream(self) -> None:
        """
        A far end that terminates media but has no stream open gives none.
        """
        self.assertIsNone(routerMediaCounters(FakeEndpoint(snapshot=None)))

    def test_knownCounters(self) -> None:
        """
        A far end's stream statistics are reported from the phone's side:
        what the router received is what the phone sent (Tx), what it sent
        what the phone received (Rx); loss and jitter (rounded ms) of the
        phone's stream as the router measured it.
        """
        snapshot = SimpleNamespace(receive=SimpleNamespace(packets=295, octets=49468, lost=1, jitterMs=2.6),
                                   send=SimpleNamespace(packets=277, octets=46531))
        self.assertEqual(routerMediaCounters(FakeEndpoint(snapshot=snapshot)),
                         MediaCounters(295, 49468, 277, 46531, 1, 3, 0))


class RegisterOffhookCommandTests(SynchronousTestCase):
    """
    L{registerOffhookCommand} adds C{show ephone offhook} to the table.
    """

    def test_registered(self) -> None:
        """
        The command is registered with help text, and registering twice is
        refused by the table.
        """
        table = CommandTable()
        control = CallRouter().control
        registerOffhookCommand(table, control)
        patterns = {" ".join(c.pattern): c.help for c in table.commands()}
        self.assertEqual(sorted(patterns), ["show ephone offhook"])
        self.assertTrue(all(patterns.values()))
        self.assertRaises(ValueError, registerOffhookCommand, table, control)


LAMP_ON = m.SetLamp(Stimulus.VOICE_MAIL, 0, LampMode.ON)
LAMP_OFF = m.SetLamp(Stimulus.VOICE_MAIL, 0, LampMode.OFF)


class MessageWaitingTests(SynchronousTestCase):
    """
    C{mwi on|off NUMBER} (CME C{mwi} vocabulary) sets and clears the
    message-waiting lamp of the phones with that number (SetLamp, the
    voice-mail stimulus 0x0F, instance 0), remembers it for phones that
    register later, and C{show ephone} shows it.
    """

    def setUp(self) -> None:
        self.router = CallRouter()
        self.registry = self.router.router.registry
        self.table = CommandTable()
        registerSccpCommands(self.table, self.registry)

    def execute(self, words: str) -> CommandResult:
        command, variables = self.table.lookup(words.split())
        result = command.handler(**variables)
        json.dumps(result.data)
        return result

    def test_onAndOff(self) -> None:
        """
        C{mwi on 2001} lights Alice's lamp (Bob's phone gets nothing);
        show ephone ends her mediaActive line with C{MWI}; C{mwi off 2001}
        puts the lamp out.
        """
        a, b = self.router.phone(MAC_A), self.router.phone(MAC_B)
        result = self.execute("mwi on 2001")
        self.assertEqual(result.text, "Message waiting on for 2001: lamp set on ephone-1")
        self.assertEqual(a.received(), [LAMP_ON])
        self.assertEqual(b.received(), [])
        alice = self.registry.byMac(MAC_A)
        self.assertTrue(renderEphone(alice)[1].endswith(" MWI"), renderEphone(alice))
        self.assertTrue(ephoneData(alice)["messageWaiting"])
        self.assertFalse(ephoneData(self.registry.byMac(MAC_B))["messageWaiting"])
        result = self.execute("mwi off 2001")
        self.assertEqual(result.text, "Message waiting off for 2001: lamp cleared on ephone-1")
        self.assertEqual(a.received(), [LAMP_OFF])
        self.assertFalse(renderEphone(alice)[1].endswith(" MWI"))

    def test_fullNumber(self) -> None:
        """
        C{mwi on 4085552002}, a full number a C{dialplan-pattern} makes
        extension 2002, lights Bob's lamp as a call to it would ring him;
        a full number whose extension nobody has is refused.
        """
        table = CommandTable()
        registerSccpCommands(table, self.registry,
                             dialplanPatterns=DialplanPatterns([DialplanPattern(1, "40855520..", 4)]))
        a, b = self.router.phone(MAC_A), self.router.phone(MAC_B)
        command, variables = table.lookup("mwi on 4085552002".split())
        result = command.handler(**variables)
        self.assertEqual(result.text, "Message waiting on for 4085552002 (extension 2002): lamp set on ephone-2")
        self.assertEqual((result.data["number"], result.data["extension"]), ("4085552002", "2002"))
        self.assertEqual((a.received(), b.received()), ([], [LAMP_ON]))
        command, variables = table.lookup("mwi off 4085552099".split())
        with self.assertRaises(CommandError) as caught:
            command.handler(**variables)
        self.assertEqual(str(caught.exception), "Unknown number 4085552099: no ephone has a line with that number")

    def test_autoAssignedPhoneRegistersAfterMwi(self) -> None:
        """
        A message waits for auto-assigned DN 3001; its phone goes away and
        its reservation is cleared; another phone (no C{ephones:} entry)
        registers, is given 3001, and gets the lamp at registration.
        """
        router = CallRouter(callConfig(ephones=(), autoAssign=(3001, 3009)))
        registry = router.router.registry
        table = CommandTable()
        registerSccpCommands(table, registry)
        first = router.phone(MAC_C)
        first.send(m.TimeDateReq())
        first.received()
        command, variables = table.lookup("mwi on 3001".split())
        self.assertEqual(command.handler(**variables).text, "Message waiting on for 3001: lamp set on ephone-1")
        first.transport.loseConnection()
        command, variables = table.lookup(["clear", "ephone", "auto-assign", MAC_C])
        self.successResultOf(maybeDeferred(command.handler, **variables))
        second = router.router.connect(port=PORTS[MAC_B])
        second.register("SEP" + MAC_B)
        second.received()
        second.send(m.TimeDateReq())
        self.assertEqual(second.received()[-1], LAMP_ON)
        bob = registry.byMac(MAC_B)
        self.assertEqual(([line.assignment.dn for line in bob.lines], bob.messageWaiting), (["3001"], True))

    def test_unknownNumber(self) -> None:
        """A number no phone has is refused with a clear error; nothing is remembered."""
        with self.assertRaises(CommandError) as caught:
            self.execute("mwi on 4999")
        self.assertEqual(str(caught.exception), "Unknown number 4999: no ephone has a line with that number")

    def test_rememberedAtRegistration(self) -> None:
        """
        A message waiting for Carol's 2003 while her phone is not
        registered lights its lamp when her registration completes, right
        after the idle prompt.
        """
        result = self.execute("mwi on 2003")
        self.assertEqual(result.text, "Message waiting on for 2003: no registered phone; set when one registers")
        c = self.router.router.connect(port=PORTS[MAC_C])
        c.register("SEP" + MAC_C)
        c.received()
        c.send(m.TimeDateReq())
        received = c.received()
        self.assertEqual(received[-1], LAMP_ON)
        self.assertIsInstance(received[-2], m.DisplayPromptStatus)
        self.assertTrue(self.registry.byMac(MAC_C).messageWaiting)

    def test_noLampWithoutMessage(self) -> None:
        """A phone with no message waiting gets no SetLamp at registration (its registration is unchanged)."""
        c = self.router.router.connect(port=PORTS[MAC_C])
        c.register("SEP" + MAC_C)
        c.received()
        c.send(m.TimeDateReq())
        self.assertFalse([msg for msg in c.received() if isinstance(msg, m.SetLamp)])


class MessageWaitingTsharkTests(TestCase):
    """Wireshark's SCCP dissector reads the lamp messages C{mwi on|off} send."""

    timeout = 30

    def test_setLampDecodes(self) -> Any:
        """tshark decodes both SetLamps as stimulus 0x0f (VoiceMail), instance 0, lamp mode on (2) and off (1)."""
        capture = buildPcap([(sentByPhone(m.messageIdOf(msg)), m.encodeMessage(msg, protocolVersion=11))
                             for msg in (LAMP_ON, LAMP_OFF)])
        d = tsharkLines(self, capture, "-Y", "skinny.messageId == 0x86", "-T", "fields", "-e", "skinny.stimulus",
                        "-e", "skinny.stimulusInstance", "-e", "skinny.lampMode", "-e", "_ws.col.Info")

        def check(lines: list[str]) -> None:
            rows = [line.split("\t") for line in lines]
            self.assertEqual([row[:3] for row in rows], [["0x0000000f", "0", "0x00000002"], ["0x0000000f", "0", "0x00000001"]])
            self.assertEqual([row for row in rows if "Malformed" in row[3]], [])
        return d.addCallback(check)
