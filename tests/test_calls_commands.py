"""
Tests for L{srst.calls.commands}: C{show voice call status} rendered from
calls set up by the engine between in-memory SCCP phones (the helpers of
L{tests.callhelpers}).
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.sccp.config import EphoneConfig, LineButton
from srst.admin.commands import CommandResult, CommandTable, InvalidInput
from srst.calls.commands import NO_ACTIVE_CALLS, VOICE_CALL_HEADER, ControlledCallRow, registerCallCommands, showVoiceCallStatus
from srst.sccp import messages as m
from srst.sccp.constants import DeviceType
from srst.calls.alias import Alias, Aliases
from srst.calls.dialplan import DialplanPattern
from srst.calls.forward import ForwardSettings
from tests.callhelpers import MAC_A, MAC_B, MAC_C, CallRouter, CallSetup, Commands, Engine, callConfig, connected, dial

MAC_D = "0000000000D4"


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
        self.assertEqual(result.data, {"legs": [], "mgcp": [], "activeCalls": 0})

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


class ControlledCallRowTests(SynchronousTestCase):
    """
    Rows of calls under MGCP control in C{show voice call status}.
    """

    def test_rows(self):
        """
        Each MGCP connection is a row (connection id, call id, port, the
        far end's RTP address or C{-}, codec, C{MGCP}); the connections of
        one call id count as one call.
        """
        rows = [ControlledCallRow("1/0/0", "A1B2", "1f", "g711ulaw", ("127.0.0.1", 40002), "sendrecv"),
                ControlledCallRow("1/0/1", "a1b2", "20", "g711alaw", ("::1", 40004), "sendrecv"),
                ControlledCallRow("1/0/2", "C3", "21", "g711ulaw", None, "recvonly")]
        engine = CallRouter().engine
        result = showVoiceCallStatus(engine, rows)
        lines = result.text.splitlines()
        self.assertEqual(lines[0], VOICE_CALL_HEADER)
        self.assertRegex(lines[1], r"^0x1F A1B2 0x[0-9A-F]{8} 1/0/0 127\.0\.0\.1:40002 g711ulaw MGCP$")
        self.assertRegex(lines[2], r"^0x20 a1b2 0x[0-9A-F]{8} 1/0/1 \[::1\]:40004 g711alaw MGCP$")
        self.assertRegex(lines[3], r"^0x21 C3 0x[0-9A-F]{8} 1/0/2 - g711ulaw MGCP$")
        self.assertEqual(lines[4], "2 active calls found")
        self.assertEqual(result.data["mgcp"][2], {"port": "1/0/2", "callId": "C3", "connectionId": "21",
                                                  "codec": "g711ulaw", "remote": None, "mode": "recvonly"})


class RegisterCallCommandsTests(SynchronousTestCase):
    """
    L{registerCallCommands} adds C{show voice call status} to the table.
    """

    def test_registered(self) -> None:
        """
        The commands are registered with help text, and registering twice is
        refused by the table.
        """
        table = CommandTable()
        registerCallCommands(table, CallRouter().engine)
        patterns = {" ".join(c.pattern): c.help for c in table.commands()}
        self.assertEqual(sorted(patterns), ["show dialplan number <number>", "show voice call status"])
        self.assertTrue(all(patterns.values()))
        self.assertRaises(ValueError, registerCallCommands, table, CallRouter().engine)


class ShowDialplanNumberTests(SynchronousTestCase):
    """
    C{show dialplan number <n>}: which line or voice port a number reaches.
    """

    def setUp(self) -> None:
        self.setup = Engine(dialplanPatterns=[DialplanPattern(1, "40855501..", 4)])
        self.setup.endpoint("0123", port="50/0/4.0", peer=20004)
        self.setup.endpoint("95551234", port="1/0/0", peer=9)
        self.table = CommandTable()
        registerCallCommands(self.table, self.setup.engine)

    def show(self, number: str) -> CommandResult:
        command, variables = self.table.lookup(["show", "dialplan", "number", number])
        result = command.handler(**variables)
        assert isinstance(result, CommandResult)
        return result

    def test_fullNumber(self) -> None:
        """
        A full number shows the C{dialplan-pattern} that makes it an
        extension and the extension's line.
        """
        result = self.show("4085550123")
        self.assertEqual(result.text, "\n".join([
            "Macro Exp.: 4085550123",
            "",
            "dialplan-pattern 1 40855501.. extension-length 4: extension 0123",
            "Matched: 0123   Digits: 4",
            "Target: 50/0/4.0 dial-peer 20004 number 0123"]))
        self.assertEqual(result.data, {"number": "4085550123", "extension": "0123", "steps": [], "targets": [
            {"port": "50/0/4.0", "dialPeer": 20004, "number": "0123"}]})

    def test_portAndNothing(self) -> None:
        """
        A voice port's number shows the port; a number nobody has shows
        C{No match}.
        """
        result = self.show("95551234")
        self.assertEqual(result.text.splitlines()[-1], "Target: 1/0/0 dial-peer 9 number 95551234")
        result = self.show("4085550199")
        self.assertEqual(result.text, "Macro Exp.: 4085550199\n\nNo match")

    def test_alias(self) -> None:
        """
        A number no phone has that an C{alias} reroutes shows the alias
        before the alternate's line, as a call to it rings there.
        """
        setup = Engine(aliases=Aliases([Alias(1, "60..", "2001")]))
        setup.endpoint("2001", port="50/0/1.0", peer=20001)
        registerCallCommands(table := CommandTable(), setup.engine)
        command, variables = table.lookup(["show", "dialplan", "number", "6001"])
        result = command.handler(**variables)
        self.assertEqual(result.text, "\n".join([
            "Macro Exp.: 6001",
            "",
            "Matched: 6001   Digits: 4",
            "alias 1 60.. to 2001",
            "Target: 50/0/1.0 dial-peer 20001 number 2001"]))
        self.assertEqual(result.data["steps"], ["alias 1 60.. to 2001"])

    def test_forwardAll(self) -> None:
        """
        A number with call-forward all shows each hop before the line that
        rings.
        """
        setup = Engine(forwards=ForwardSettings(perDn={"2001": "2002", "2002": "2003"}))
        for n in ("2001", "2002", "2003"):
            setup.endpoint(n, port=f"50/0/{n[-1]}.0", peer=20000 + int(n[-1]))
        registerCallCommands(table := CommandTable(), setup.engine)
        command, variables = table.lookup(["show", "dialplan", "number", "2001"])
        self.assertEqual(command.handler(**variables).text, "\n".join([
            "Macro Exp.: 2001",
            "",
            "Matched: 2001   Digits: 4",
            "call-forward all 2001 to 2002",
            "call-forward all 2002 to 2003",
            "Target: 50/0/3.0 dial-peer 20003 number 2003"]))

    def test_notDigits(self) -> None:
        """
        A number that is not digits is invalid input (the CLI prints
        C{% Invalid input detected} and exits 1), not C{No match}.
        """
        error = self.assertRaises(InvalidInput, self.show, "abc")
        self.assertEqual(str(error), "Invalid input detected")
