"""
Tests for L{srst.calls.commands}: C{show ephone offhook} and C{show voice
call status} rendered from calls set up by the engine between in-memory
SCCP phones (the helpers of L{tests.test_calls_engine}).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from srst._cmfconfig import EphoneConfig, LineButton
from srst.admin.commands import CommandResult, CommandTable
from srst.calls.commands import (
    NO_ACTIVE_CALLS,
    VOICE_CALL_HEADER,
    MediaCounters,
    registerCallCommands,
    routerMediaCounters,
)
from srst.sccp import messages as m
from srst.sccp.constants import Codec, DeviceType, SoftKeyEvent
from tests.callhelpers import FakeEndpoint
from tests.test_calls_engine import A_REF, MAC_A, MAC_B, MAC_C, CallRouter, CallSetup, callConfig, dial

MAC_D = "0000000000D4"

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


class Commands:
    """The call commands registered on a table, for one L{CallRouter}."""

    def __init__(self, router: CallRouter) -> None:
        self.table = CommandTable()
        registerCallCommands(self.table, router.engine, router.router.registry)

    def run(self, words: str) -> CommandResult:
        """@return: the result of a command."""
        command, variables = self.table.lookup(words.split())
        result = command.handler(**variables)
        assert isinstance(result, CommandResult)
        return result

    def lines(self, words: str) -> list[str]:
        """@return: the text of a command, split into lines."""
        text = self.run(words).text
        return text.split("\n") if text else []


def connected(testCase: SynchronousTestCase, **kwargs: Any) -> tuple[CallSetup, Commands]:
    """@return: a connected call from Alice (2001, DN 1) to Bob (2002, DN 2), and the commands."""
    call = CallSetup(testCase, **kwargs)
    call.connect()
    return call, Commands(call.router)


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


class ShowVoiceCallStatusTests(SynchronousTestCase):
    """
    C{show voice call status}: one row per call leg under the seed's header,
    and the number of calls.
    """

    def test_noCalls(self) -> None:
        """
        Without calls the command answers C{No active calls found}.
        """
        router = CallRouter()
        router.phone(MAC_A)
        result = Commands(router).run("show voice call status")
        self.assertEqual(result.text, NO_ACTIVE_CALLS)
        self.assertEqual(result.data, {"legs": [], "activeCalls": 0})

    def test_connectedCall(self) -> None:
        """
        A connected call prints the caller's row (called number) and the
        called phone's row (C{*} prefix), with the same CID, ports
        C{50/0/<dn tag>.0}, the codec and the dial-peer pairs.
        """
        _, commands = connected(self)
        self.assertEqual(commands.lines("show voice call status"), [
            VOICE_CALL_HEADER,
            "0x1101 2C01 0x86003A4C 50/0/1.0 2002 g711ulaw 20001/20002",
            "0x1102 2C01 0x86007498 50/0/2.0 *2002 g711ulaw 20002/20001",
            "1 active calls found",
        ])

    def test_header(self) -> None:
        """
        The header is the seed's.
        """
        self.assertEqual(VOICE_CALL_HEADER, "CallID CID ccVdb Port DSP/Ch Called # Codec Dial-peers")

    def test_ringing(self) -> None:
        """
        A ringing call is listed, with no codec chosen yet.
        """
        call = CallSetup(self)
        call.ring()
        self.assertEqual(Commands(call.router).lines("show voice call status")[1:], [
            "0x1101 2C01 0x86003A4C 50/0/1.0 2002 None 20001/20002",
            "0x1102 2C01 0x86007498 50/0/2.0 *2002 None 20002/20001",
            "1 active calls found",
        ])

    def test_json(self) -> None:
        """
        C{--json} gives every leg's fields and the number of calls.
        """
        _, commands = connected(self, secureA=True, secureB=True)
        data = commands.run("show voice call status").data
        self.assertEqual(data["activeCalls"], 1)
        self.assertEqual(data["legs"][1], {
            "callId": "0x1102", "cid": "2C01", "ccVdb": "0x86007498", "port": "50/0/2.0", "dspChannel": None,
            "called": "*2002", "codec": "g711ulaw", "dialPeers": [20002, 20001], "dnTag": 2, "number": "2002",
            "state": "CONNECTED", "secure": True,
        })

    def test_busyAttemptNotListed(self) -> None:
        """
        A call attempt to a busy phone makes no call: only the connected
        call is listed; once every phone hangs up there is none.
        """
        router = CallRouter()
        call = CallSetup(self, router=router)
        call.connect()
        c = router.phone(MAC_C)
        c.send(m.OffHook())
        dial(c, "2001")
        commands = Commands(router)
        lines = commands.lines("show voice call status")
        self.assertEqual(lines[-1], "1 active calls found")
        self.assertEqual(len(lines), 4)
        call.a.send(m.OnHook())
        call.b.send(m.OnHook())
        c.send(m.OnHook())
        self.assertEqual(commands.lines("show voice call status"), [NO_ACTIVE_CALLS])

    def test_twoConnectedCalls(self) -> None:
        """
        With two calls up both are listed, each call's legs together with
        their own CID, and C{2 active calls found}.
        """
        router = CallRouter(callConfig(ephones=tuple(
            EphoneConfig(mac, "7970", (LineButton(1, number, number),))
            for mac, number in ((MAC_A, "2001"), (MAC_B, "2002"), (MAC_C, "2003"), (MAC_D, "2004")))))
        a, b, c = (router.phone(mac) for mac in (MAC_A, MAC_B, MAC_C))
        d = router.router.connect(port=30004)
        d.register("SEP" + MAC_D, protocolVersion=11, deviceType=DeviceType.PHONE_7970)
        d.received()
        for caller, callee, number in ((a, b, "2002"), (c, d, "2004")):
            caller.send(m.OffHook())
            dial(caller, number)
            callee.send(m.OffHook())
        self.assertEqual(Commands(router).lines("show voice call status"), [
            VOICE_CALL_HEADER,
            "0x1101 2C01 0x86003A4C 50/0/1.0 2002 g711ulaw 20001/20002",
            "0x1102 2C01 0x86007498 50/0/2.0 *2002 g711ulaw 20002/20001",
            "0x1103 2C02 0x8600AEE4 50/0/3.0 2004 g711ulaw 20003/20004",
            "0x1104 2C02 0x8600E930 50/0/4.0 *2004 g711ulaw 20004/20003",
            "2 active calls found",
        ])


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


class RegisterCallCommandsTests(SynchronousTestCase):
    """
    L{registerCallCommands} adds both commands to the table.
    """

    def test_registered(self) -> None:
        """
        Both commands are registered with help text, and registering twice
        is refused by the table.
        """
        router = CallRouter()
        commands = Commands(router)
        patterns = {" ".join(c.pattern): c.help for c in commands.table.commands()}
        self.assertEqual(sorted(patterns), ["show ephone offhook", "show voice call status"])
        self.assertTrue(all(patterns.values()))
        self.assertRaises(ValueError, registerCallCommands, commands.table, router.engine,
                          router.router.registry)
