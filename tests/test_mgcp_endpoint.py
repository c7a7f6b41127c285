"""
Tests for L{srst.mgcp.endpoint} (with L{srst.mgcp._requests},
L{srst.mgcp._signals}, L{srst.mgcp._connections} and
L{srst.mgcp._control}): requested events and actions, quarantine, signals
on the voice port, connection modes and audits.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from srst.media.portrange import RtpPortAllocator
from srst.mgcp.endpoint import ControlState
from srst.mgcp.messages import Response
from srst.ports.tones import CallProgressTone
from srst.ports.voiceport import PortStatus
from tests.dtmfhelpers import detectDigits
from tests.mgcphelpers import DOMAIN, GatewayHarness

EP0 = "aaln/S1/SU0/0@" + DOMAIN
FXO = "aaln/S1/SU1/0@" + DOMAIN


class RequestTests(SynchronousTestCase):
    """
    RQNT semantics: actions, quarantine, errors (mgcp.md 6.5, 7.1).
    """

    def setUp(self) -> None:
        self.h = GatewayHarness()
        self.line = self.h.lines["1/0/0"]
        self.port = self.h.ports["1/0/0"]
        self.endpoint = self.h.gateway.endpoints["1/0/0"]

    def rqnt(self, extra: str, requestId: str = "1", endpoint: str = EP0) -> Response:
        self.transaction = getattr(self, "transaction", 1000) + 1
        return self.h.response("RQNT %d %s MGCP 0.1\nX: %s\n%s" % (
            self.transaction, endpoint, requestId, extra))

    def observed(self) -> list[str]:
        return [c.raw("O") for c in self.h.allCommands("NTFY")]

    def test_lockstep(self) -> None:
        """
        Without Q: loop, events after an NTFY are held until the next RQNT,
        which processes them against its own R:.
        """
        self.rqnt("R: L/hd, L/hu, D/[0-9]\n")
        self.line.offHook()
        self.line.dial("5")
        self.assertEqual(self.observed(), ["L/hd"])
        self.rqnt("R: L/hu, D/[0-9]\n", "2")
        self.assertEqual(self.observed(), ["L/hd", "D/5"])
        self.assertEqual(self.h.allCommands("NTFY")[-1].raw("X"), "2")

    def test_discard(self) -> None:
        """
        Q: discard drops the held events.
        """
        self.rqnt("R: L/hd, D/[0-9]\n")
        self.line.offHook()
        self.line.dial("5")
        self.rqnt("R: D/[0-9]\nQ: discard\n", "2")
        self.assertEqual(self.observed(), ["L/hd"])

    def test_loop(self) -> None:
        """
        Q: loop notifies every event under the same request.
        """
        self.rqnt("R: L/hd, L/hu, L/hf, D/[0-9]\nQ: process,loop\n")
        self.line.offHook()
        self.line.flash()
        self.line.dial("12")
        self.line.onHook()
        self.assertEqual(self.observed(), ["L/hd", "L/hf", "D/1", "D/2", "L/hu"])

    def test_accumulateAndIgnore(self) -> None:
        """
        A accumulates into the next notification; I ignores; unrequested
        on-hook is not reported.
        """
        self.rqnt("R: D/[0-9](A), D/#(N), L/hf(I)\nQ: loop\n")
        self.line.offHook()
        self.line.dial("12")
        self.line.flash()
        self.assertEqual(self.observed(), ["L/hd"])
        self.line.dial("#")
        self.assertEqual(self.observed(), ["L/hd", "D/1,D/2,D/#"])
        self.line.onHook()
        self.assertEqual(len(self.observed()), 2)

    def test_embedded(self) -> None:
        """
        E(S(L/dl),R(...)) switches to the embedded request when the event
        occurs: dial tone starts and the new events are detected.
        """
        self.rqnt("R: L/hd(N,E(S(L/dl),R(D/[0-9](N),L/hu(N))))\nQ: loop\n")
        self.line.offHook()
        self.assertIs(self.port.dsp.playing, CallProgressTone.DIAL)
        self.line.dial("7")
        self.assertEqual(self.observed(), ["L/hd", "D/7"])

    def test_persistentOffHook(self) -> None:
        """
        Off-hook is reported without a request, with X: 0.
        """
        self.line.offHook()
        [ntfy] = self.h.allCommands("NTFY")
        self.assertEqual((ntfy.raw("X"), ntfy.raw("O")), ("0", "L/hd"))

    def test_errors(self) -> None:
        """
        Unknown package 518, unknown event 522, D action without digit map
        519, swap action 523, missing X: 510, ringing an off-hook phone 401;
        each leaves the previous request in place.
        """
        self.rqnt("R: L/hd\n", "9")
        self.assertEqual(self.rqnt("R: Z/foo\n").code, 518)
        self.assertEqual(self.rqnt("R: L/zz\n").code, 522)
        self.assertEqual(self.rqnt("R: D/[0-9](D)\n").code, 519)
        self.assertEqual(self.rqnt("R: L/hu(S)\n").code, 523)
        self.assertEqual(self.rqnt("S: L/zz\n").code, 522)
        self.assertEqual(self.h.response("RQNT 999 %s MGCP 0.1\nR: L/hd\n" % (EP0,)).code, 510)
        self.assertEqual(self.endpoint.notification.requestId, "9")
        self.line.offHook()
        self.assertEqual(self.rqnt("S: L/rg\n").code, 401)

    def test_wildcard(self) -> None:
        """
        An RQNT on aaln/* arms every endpoint.
        """
        self.assertEqual(self.rqnt("R: L/hd\n", "5", "aaln/*@" + DOMAIN).code, 200)
        self.assertEqual([e.notification.requestId for e in self.h.gateway.endpoints.values()],
                         ["5", "5", "5"])


class SignalTests(SynchronousTestCase):
    """
    S: signals on the voice port (mgcp.md 7.2).
    """

    def setUp(self) -> None:
        self.h = GatewayHarness()
        self.line = self.h.lines["1/0/0"]
        self.port = self.h.ports["1/0/0"]

    def rqnt(self, extra: str, requestId: str = "1") -> Response:
        self.transaction = getattr(self, "transaction", 1000) + 1
        return self.h.response("RQNT %d %s MGCP 0.1\nX: %s\n%s" % (
            self.transaction, EP0, requestId, extra))

    def test_ringTimeout(self) -> None:
        """
        L/rg rings with the L/ci number and stops after 180 s, reporting
        L/oc when requested.
        """
        self.rqnt('R: L/hd, L/oc\nS: L/rg, L/ci(10/14/17/26,"81234",Alice)\n')
        self.assertTrue(self.line.ringing)
        self.assertEqual(self.line.callerId, "81234")
        self.h.reactor.advance(179)
        self.assertTrue(self.line.ringing)
        self.h.reactor.advance(1)
        self.assertFalse(self.line.ringing)
        self.assertEqual(self.h.allCommands("NTFY")[-1].raw("O"), "L/oc")

    def test_toneReplacedAndStopped(self) -> None:
        """
        Tones follow S:: ringback (to= overrides the time-out), then busy;
        an empty S: stops it.
        """
        self.line.offHook()
        self.rqnt("S: G/rt(to=2000)\n")
        self.assertIs(self.port.dsp.playing, CallProgressTone.RINGBACK)
        self.h.reactor.advance(2)
        self.assertIsNone(self.port.dsp.playing)
        self.rqnt("S: L/bz\n")
        self.assertIs(self.port.dsp.playing, CallProgressTone.BUSY)
        self.rqnt("S: L/ro\n")
        self.assertIs(self.port.dsp.playing, CallProgressTone.REORDER)
        self.rqnt("S:\n")
        self.assertIsNone(self.port.dsp.playing)

    def test_ringStoppedByRequest(self) -> None:
        """
        A new RQNT without L/rg stops the ringing; one repeating it keeps it.
        """
        self.rqnt("S: L/rg\n")
        self.rqnt("S: L/rg\n", "2")
        self.assertEqual(self.line.ringCount, 1)
        self.rqnt("R: L/hd\n", "3")
        self.assertFalse(self.line.ringing)
        self.assertIs(self.port.status, PortStatus.IDLE)

    def test_fxoSignals(self) -> None:
        """
        An FXO line cannot ring (513); its incoming ringing is L/rg.
        """
        response = self.h.response("RQNT 5 %s MGCP 0.1\nX: 1\nS: L/rg\n" % (FXO,))
        self.assertEqual(response.code, 513)
        self.h.response("RQNT 6 %s MGCP 0.1\nX: 2\nR: L/rg\n" % (FXO,))
        self.h.lines["1/1/0"].ringLine("5551212")
        self.assertEqual(self.h.allCommands("NTFY")[-1].raw("O"), "L/rg")


    def test_dtmfSignals(self) -> None:
        """
        C{D/x} DTMF signals (RFC 3660 2.2) answer 200 and play their digits
        on the line, in order, as Q.23 tones of 100 ms with 100 ms of
        silence; with or without the package name, parameters allowed.
        """
        self.line.offHook()
        response = self.rqnt("S: D/1, d/#, 9(to=100)\n")
        self.assertEqual((response.code, response.commentary), (200, "OK"))
        self.assertEqual(self.port.dsp.playing, "dtmf 1#9")
        frames = [sample for _ in range(31) for sample in self.port.dsp.nextFrame()]
        self.assertEqual(detectDigits(frames), "1#9")
        self.assertIsNone(self.port.dsp.playing)
        self.assertEqual(self.h.ports["1/0/1"].dsp.playing, None)

    def test_dtmfSignalOnFxo(self) -> None:
        """An FXO line generates DTMF too (it dials with it)."""
        response = self.h.response("RQNT 7 %s MGCP 0.1\nX: 1\nS: D/5\n" % (FXO,))
        self.assertEqual(response.code, 200)
        self.assertEqual(self.h.ports["1/1/0"].dsp.playing, "dtmf 5")

    def test_dtmfSignalNotADigit(self) -> None:
        """
        C{D/x} (a wildcard), C{D/t} and a digit range are events, not
        signals: 522, and nothing plays.
        """
        for signal in ("D/x", "D/t", "D/[0-9]"):
            response = self.rqnt("S: %s\n" % (signal,))
            self.assertEqual((response.code, response.commentary), (522, "No such event or signal"))
        self.assertIsNone(self.port.dsp.playing)


class ConnectionModeTests(SynchronousTestCase):
    """
    Connection modes, EPCF, AUCX, FXO seizure (mgcp.md 6.1, 6.8, 6.10).
    """

    def setUp(self) -> None:
        self.h = GatewayHarness()

    def crcx(self, endpoint: str = EP0, mode: str = "sendrecv", extra: str = "",
             transaction: int = 20) -> Response:
        return self.h.response("CRCX %d %s MGCP 0.1\nC: 5A\nM: %s\n%s" % (
            transaction, endpoint, mode, extra))

    def test_modes(self) -> None:
        """
        recvonly plays but does not send; inactive neither; sendonly sends
        but does not play.
        """
        sdp = "\nv=0\nc=IN IP4 127.0.0.1\nm=audio 5000 RTP/AVP 0\n"
        connectionId = self.crcx(mode="recvonly", extra=sdp).raw("I")
        leg = self.h.legs[0]
        self.assertEqual((leg.sending, leg.receiving), (False, True))
        for transaction, mode, expected in ((21, "sendonly", (True, False)),
                                            (22, "inactive", (False, False)),
                                            (23, "confrnce", (True, True))):
            response = self.h.response("MDCX %d %s MGCP 0.1\nI: %s\nM: %s\n"
                                       % (transaction, EP0, connectionId, mode))
            self.assertEqual(response.code, 200)
            self.assertEqual((leg.sending, leg.receiving), expected, mode)

    def test_notifiedEntityOnly(self) -> None:
        """
        A CRCX carrying N: but no request sets the notified entity and keeps
        the current request.
        """
        self.h.response("RQNT 10 %s MGCP 0.1\nX: 9\nR: L/hd\n" % (EP0,))
        self.crcx(extra="N: ca@127.0.0.3:2427\n")
        endpoint = self.h.gateway.endpoints["1/0/0"]
        self.assertEqual(endpoint.notifiedEntity.host, "127.0.0.3")
        self.assertEqual(endpoint.notification.requestId, "9")
        self.assertEqual(len(endpoint.notification.requested), 1)

    def test_bearerLaw(self) -> None:
        """
        EPCF B: e:A makes new connections prefer PCMA; e:x gets 532.
        """
        response = self.h.response("EPCF 30 %s MGCP 0.1\nB: e:A\n" % (EP0,))
        self.assertEqual(response.code, 200)
        self.assertEqual(self.crcx().sdp[0].payloadTypes[0], 8)
        self.assertEqual(self.h.response("EPCF 31 %s MGCP 0.1\nB: e:x\n" % (EP0,)).code, 532)

    def test_auditConnection(self) -> None:
        """
        AUCX returns C:, M: and the local then remote SDP.
        """
        sdp = "\nv=0\nc=IN IP4 127.0.0.1\nm=audio 5000 RTP/AVP 0\n"
        connectionId = self.crcx(extra=sdp).raw("I")
        response = self.h.response("AUCX 40 %s MGCP 0.1\nI: %s\nF: C,M,LC,RC\n"
                                   % (EP0, connectionId))
        self.assertEqual((response.raw("C"), response.raw("M")), ("5A", "sendrecv"))
        self.assertEqual([s.mediaPort for s in response.sdp],
                         [self.h.legs[0].local[1], 5000])

    def test_connectionLimit(self) -> None:
        """
        A fifth connection on one endpoint gets 540.
        """
        for transaction in range(4):
            self.assertEqual(self.crcx(transaction=50 + transaction).code, 200)
        self.assertEqual(self.crcx(transaction=60).code, 540)

    def test_noRtpPort(self) -> None:
        """
        When the RTP port range is exhausted CRCX gets 403 (no resources now).
        """
        self.h.allocator = RtpPortAllocator("127.0.0.1", "40000-40001")
        self.assertEqual(self.crcx(transaction=90).code, 200)
        self.assertEqual(self.crcx(endpoint="aaln/S1/SU0/1@" + DOMAIN, transaction=91).code, 403)
        self.assertEqual(len(self.h.gateway.connectionsOf("1/0/1")), 0)

    def test_fxoSeizure(self) -> None:
        """
        A connection on an idle FXO line seizes it; deleting the last one
        releases it.
        """
        connectionId = self.crcx(endpoint=FXO).raw("I")
        self.assertTrue(self.h.lines["1/1/0"].seized)
        response = self.h.response("DLCX 70 %s MGCP 0.1\nI: %s\n" % (FXO, connectionId))
        self.assertEqual(response.code, 250)
        self.assertFalse(self.h.lines["1/1/0"].seized)
        self.assertIs(self.h.ports["1/1/0"].status, PortStatus.IDLE)

    def test_deleteByCall(self) -> None:
        """
        DLCX with C: only deletes that call's connections; an unknown call
        gets 516.
        """
        self.crcx()
        self.assertEqual(self.h.response("DLCX 80 %s MGCP 0.1\nC: 77\n" % (EP0,)).code, 516)
        self.assertEqual(self.h.response("DLCX 81 %s MGCP 0.1\nC: 5a\n" % (EP0,)).code, 250)
        self.assertEqual(self.h.gateway.connectionsOf("1/0/0"), ())


class ControlTests(SynchronousTestCase):
    """
    The endpoint's control machine (L{srst.mgcp._control}) as the endpoint
    runs it: relinquish, the report of a port gone local, reclaim.
    """

    def setUp(self) -> None:
        self.h = GatewayHarness()
        self.endpoint = self.h.gateway.endpoints["1/0/0"]

    def test_reportAfterTheInput(self) -> None:
        """
        The one told that a relinquished port is idle is told once the
        machine's input is over: it may ask the endpoint its state and
        reclaim it at once.
        """
        seen = []

        def whenIdle(name: str) -> None:
            seen.append((name, self.endpoint.controlState))
            self.endpoint.reclaim()

        self.endpoint.relinquish(whenIdle)
        self.assertEqual(seen, [("1/0/0", ControlState.LOCAL)])
        self.assertIs(self.endpoint.controlState, ControlState.CONTROLLED)

    def test_keptCallDrains(self) -> None:
        """
        Relinquished with a connected call, the endpoint drains: the
        request is forgotten, the connection kept, and the port reported
        local only when the line goes on hook.
        """
        self.h.response("CRCX 1010 %s MGCP 0.1\nC: 1\nM: sendrecv\nX: 7\nR: L/hu\n\n"
                        "v=0\nc=IN IP4 127.0.0.1\nm=audio 29632 RTP/AVP 0\n" % (EP0,))
        self.h.lines["1/0/0"].offHook()
        self.assertTrue(self.endpoint.carriesConnectedCall)
        seen: list[str] = []
        self.endpoint.relinquish(seen.append)
        self.assertIs(self.endpoint.controlState, ControlState.DRAINING)
        self.assertEqual((len(self.endpoint.connections), self.endpoint.notification.requestId, seen),
                         (1, "0", []))
        self.h.lines["1/0/0"].onHook()
        self.assertEqual((self.endpoint.connections, seen), ({}, ["1/0/0"]))
        self.assertIs(self.endpoint.controlState, ControlState.LOCAL)

    def test_transientConnectionsDropped(self) -> None:
        """
        Relinquished without a connected call, the endpoint drops its
        connections and is local at once.
        """
        self.h.response("CRCX 1010 %s MGCP 0.1\nC: 1\nM: recvonly\n" % (EP0,))
        seen: list[str] = []
        self.endpoint.relinquish(seen.append)
        self.assertEqual((self.endpoint.connections, seen), ({}, ["1/0/0"]))
        self.assertIs(self.endpoint.controlState, ControlState.LOCAL)
