"""
Tests for L{srst.sccp.commands}: C{show ephone} in the seed's format, its
JSON, and the C{debug ephone} switches.
"""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from srst.admin.commands import CommandTable, DebugRequest
from srst.sccp import messages as m
from srst.sccp.commands import registerSccpCommands, renderEphone, showEphones
from srst.sccp.registry import Ephone, Line, LineAssignment
from tests.test_sccp_station import CONFIGURED_MAC, Router, makeConfig

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
