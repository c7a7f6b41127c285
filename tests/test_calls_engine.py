"""
Tests for L{srst.calls.engine}: the engine between fake endpoints
(L{tests.callhelpers.FakeEndpoint}), device-neutral: what it asks and tells
endpoints, in which order, for calls, hold, transfer, shared lines and
forwarding, and how it runs inputs an endpoint raises while it runs
another.  The SCCP messages of the same flows are tested with the SCCP
adapter (L{tests.test_sccp_callcontrol}, L{tests.test_sccp_callendpoint}).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from srst.sccp.config import CallForward
from srst.calls.alias import Alias, Aliases
from srst.calls.dialplan import DialplanPattern
from srst.calls.engine import CallEngine, CallStateError
from srst.calls.forward import ForwardReason, ForwardSettings, Redirect
from srst.calls.interfaces import FailureReason, ICallEndpoint, IDirectory, LineRef, Party
from srst.calls.leg import LegStatus
from srst.calls.transfer import isBlind
from tests.callhelpers import Engine, FakeDirectory, FakeEndpoint
from tests.test_sccp_station import makeConfig


class DeviceNeutralTests(SynchronousTestCase):
    """
    The engine with fake endpoints: what it asks an endpoint through
    L{ICallEndpoint} before it offers a call.
    """

    def test_fakesProvideTheInterfaces(self) -> None:
        """
        The test fakes implement every method of L{ICallEndpoint} and
        L{IDirectory}.
        """
        self.assertTrue(verifyObject(ICallEndpoint, FakeEndpoint()))
        self.assertTrue(verifyObject(IDirectory, FakeDirectory()))

    def test_noMediaIsCongestion(self) -> None:
        """
        A free destination whose L{ICallEndpoint.mediaAvailable} says no is
        not offered the call: the caller fails with congestion and the
        destination is told once (L{ICallEndpoint.mediaRefused}).
        """
        setup = Engine()
        a, lineA = setup.endpoint("2001")
        b, _ = setup.endpoint("2002", available=False)
        leg = setup.engine.seize(a, lineA)
        setup.dial(leg, "2002")
        self.assertEqual(a.events[-1], ("failed", leg, FailureReason.CONGESTION))
        self.assertEqual((b.events, b.refusals, setup.engine.calls()), ([], 1, []))

    def test_lineBusyIsBusy(self) -> None:
        """
        A destination whose line is in use without a call
        (L{ICallEndpoint.lineBusy}) is busy: the caller fails with busy and
        the destination hears nothing.
        """
        setup = Engine()
        a, lineA = setup.endpoint("2001")
        b, _ = setup.endpoint("2002", busy=True)
        leg = setup.engine.seize(a, lineA)
        setup.dial(leg, "2002")
        self.assertEqual(a.events[-1], ("failed", leg, FailureReason.BUSY))
        self.assertEqual((b.events, b.refusals), ([], 0))

    def test_callBetweenFakes(self) -> None:
        """
        A call between two fake endpoints: the caller is seized, proceeds
        and hears ringback, the callee is alerted; the callee answering
        opens a receive stream on each side (answering side first) and
        connects both; each side's receive address, once reported, makes
        the other side transmit there.
        """
        setup = Engine()
        a, lineA = setup.endpoint("2001")
        b, lineB = setup.endpoint("2002")
        legA = setup.engine.seize(a, lineA)
        setup.dial(legA, "2002")
        self.assertEqual(a.names(), ["seized", "digitsStarted", "proceeding", "ringback"])
        [legB] = setup.engine.legsOf(b)
        self.assertEqual(b.names(), ["alerting"])
        setup.engine.answer(legB)
        self.assertEqual(b.names()[1:], ["answering", "openReceive", "connected"])
        self.assertEqual(a.names()[4:], ["connected", "openReceive"])
        streamA, streamB = a.events[-1][2], b.events[2][2]
        setup.engine.mediaReady(legA, streamA.passThruPartyId, "10.0.0.1", 4000)
        self.assertEqual(b.events[-1], ("startTransmit", legB, streamB))
        setup.engine.mediaReady(legB, streamB.passThruPartyId, "10.0.0.2", 4002)
        self.assertEqual(a.events[-1], ("startTransmit", legA, streamA))
        self.assertEqual((streamA.address, streamB.address), (("10.0.0.1", 4000), ("10.0.0.2", 4002)))
        setup.engine.hangUp(legA)
        self.assertEqual((a.names()[-1], b.names()[-1], setup.engine.calls()), ("released", "released", []))


class InputQueueTests(SynchronousTestCase):
    """
    An input an endpoint raises while the engine runs another is queued and
    runs when the current input has finished.
    """

    def call(self, **reactions: Any) -> tuple[Engine, FakeEndpoint, FakeEndpoint, Any]:
        """
        @return: the engine, endpoints A and B and A's leg: A dials B, whose
            C{reactions} get the engine as first argument.
        """
        setup = Engine()
        a, lineA = setup.endpoint("2001")
        b, _ = setup.endpoint("2002")
        for name, reaction in reactions.items():
            b.reactions[name] = partial(reaction, setup.engine)
        leg = setup.engine.seize(a, lineA)
        setup.dial(leg, "2002")
        return setup, a, b, leg

    def test_mediaReadyFromOpenReceive(self) -> None:
        """
        An endpoint that reports its receive port from inside
        L{ICallEndpoint.openReceive} (a voice port) is told nothing out of
        order: the call is connected on both sides and the other side's
        port requested first, then the other side transmits to it.
        """
        def report(engine: CallEngine, leg: Any, stream: Any) -> None:
            engine.mediaReady(leg, stream.passThruPartyId, "10.0.0.2", 4002)

        setup, a, b, legA = self.call(openReceive=report)
        [legB] = setup.engine.legsOf(b)
        setup.engine.answer(legB)
        self.assertEqual(b.names(), ["alerting", "answering", "openReceive", "connected"])
        self.assertEqual(a.names()[4:], ["connected", "openReceive", "startTransmit"])
        self.assertEqual(a.events[-1][2].remote.address, ("10.0.0.2", 4002))

    def test_answerFromAlerting(self) -> None:
        """
        An endpoint that answers from inside L{ICallEndpoint.alerting} (an
        FXO line) is answered once the offer is complete: the caller hears
        ringback first, then is connected.
        """
        setup, a, b, legA = self.call(alerting=lambda engine, leg, caller: engine.answer(leg))
        self.assertEqual(a.names(), ["seized", "digitsStarted", "proceeding", "ringback", "connected",
                                     "openReceive"])
        self.assertEqual(b.names(), ["alerting", "answering", "openReceive", "connected"])
        self.assertEqual(setup.engine.calls()[0].callee.status, LegStatus.CONNECTED)

    def test_mediaFailedFromOpenReceive(self) -> None:
        """
        An endpoint that cannot open its media and says so from inside
        L{ICallEndpoint.openReceive} has the call cleared once it is
        connected: both sides are released, nothing is left.
        """
        setup, a, b, legA = self.call(openReceive=lambda engine, leg, stream: engine.mediaFailed(leg, "no port"))
        [legB] = setup.engine.legsOf(b)
        setup.engine.answer(legB)
        self.assertEqual(b.names()[-3:], ["openReceive", "connected", "released"])
        self.assertEqual(a.names()[-3:], ["connected", "openReceive", "released"])
        self.assertEqual((setup.engine.calls(), setup.engine.legsOf(a), setup.engine.legsOf(b)), ([], [], []))

    def test_queuedInputRefused(self) -> None:
        """
        A queued input the engine refuses when its turn comes (an answer
        for a leg released by the input queued before it) is logged and
        dropped; the inputs before it ran in order.
        """
        def giveUpThenAnswer(engine: CallEngine, leg: Any, caller: Any) -> None:
            engine.hangUp(leg)
            engine.answer(leg)

        with capturedLogs() as events:
            setup, a, b, legA = self.call(alerting=giveUpThenAnswer)
        self.assertEqual(b.names(), ["alerting", "released"])
        self.assertEqual(a.names()[-1], "released")
        self.assertEqual(setup.engine.calls(), [])
        [ignored] = [e for e in events if e.get("log_format", "").startswith("queued {input} ignored")]
        self.assertEqual((ignored["input"], ignored["why"]), ("answer", "cannot answer in state released"))

    def test_queueIsFirstInFirstOut(self) -> None:
        """
        Queued inputs run in the order they were raised, and an input a
        queued one raises waits behind those queued before it: both sides
        report their media while the call connects (B first), B's report
        makes A transmit and A then reports a failure, which runs only after
        A's own report has made B transmit.
        """
        setup = Engine()
        a, lineA = setup.endpoint("2001")
        b, _ = setup.endpoint("2002")
        engine = setup.engine
        for endpoint, host in ((a, "10.0.0.1"), (b, "10.0.0.2")):
            endpoint.reactions["openReceive"] = (
                lambda leg, stream, host=host: engine.mediaReady(leg, stream.passThruPartyId, host, 4000))
        a.reactions["startTransmit"] = lambda leg, stream: engine.mediaFailed(leg, "transmit failed")
        legA = engine.seize(a, lineA)
        setup.dial(legA, "2002")
        [legB] = engine.legsOf(b)
        engine.answer(legB)
        self.assertEqual(a.names()[-3:], ["openReceive", "startTransmit", "released"])
        self.assertEqual(b.names()[-4:], ["openReceive", "connected", "startTransmit", "released"])
        self.assertEqual(engine.calls(), [])

    def test_queuedInputFails(self) -> None:
        """
        A queued input that fails unexpectedly is logged as a failure; the
        inputs queued after it still run and the engine takes inputs again.
        """
        def broken(engine: CallEngine, leg: Any, caller: Any) -> None:
            engine.mediaReady(None, 0, "10.0.0.2", 4002)  # type: ignore[arg-type]
            engine.answer(leg)

        with capturedLogs() as events:
            setup, a, b, legA = self.call(alerting=broken)
        self.assertEqual(len(self.flushLoggedErrors(AttributeError)), 1)
        self.assertEqual([e["input"] for e in events if e.get("log_format", "").startswith("while running")],
                         ["mediaReady"])
        self.assertEqual(b.names()[:2], ["alerting", "answering"])
        setup.engine.hangUp(legA)
        self.assertEqual((setup.engine.calls(), setup.engine.legsOf(a), setup.engine.legsOf(b)), ([], [], []))

    def test_requestInsideInputRefused(self) -> None:
        """
        An input that returns a leg (seize) cannot wait in the queue: raised
        from inside another input, it is refused with L{RuntimeError} (a bug
        of the endpoint, as Automat refuses such an input), and the other
        endpoint gets no leg.
        """
        other = FakeEndpoint("2003")
        line = LineRef(1, "2003")
        error = self.assertRaises(RuntimeError, self.call,
                                  alerting=lambda engine, leg, caller: engine.seize(other, line))
        self.assertEqual(str(error), "seize cannot be run from inside another input of the call engine")
        self.assertEqual(other.events, [])


class ConfigurationTests(SynchronousTestCase):
    """
    The engine built from a call-manager-fallback section the way the
    service is meant to build it.
    """

    def test_fromConfig(self) -> None:
        """
        call-forward, transfer-system, transfer-pattern and max-dn dual-line
        reach the engine's settings; dual-line full-consult is not blind.
        """
        cmf = makeConfig(callForward=CallForward(busy="2003", noAnswer="2004", noAnswerTimeout=9),
                         transferSystem="full-consult", transferPatterns=("9T",), lineMode="dual-line")
        engine = CallEngine(Clock(), interdigit=cmf.timeouts.interdigit, ringing=cmf.timeouts.ringing,
                            secondaryDialtone=cmf.secondaryDialtone,
                            forwards=ForwardSettings.fromConfig(cmf.callForward),
                            transferSystem=cmf.transferSystem, transferPatterns=cmf.transferPatterns,
                            channelsPerDn=cmf.channelsPerDn)
        self.assertEqual((engine.forwards.busy, engine.forwards.noAnswer, engine.forwards.noAnswerTimeout,
                          engine.transferPatterns, engine.channelsPerDn),
                         ("2003", "2004", 9, ("9T",), 2))
        self.assertFalse(isBlind(engine.transferSystem, engine.channelsPerDn))


class Calls:
    """
    Fake endpoints Alice (2001), Bob (2002) and Carol (2003) on one engine
    (with C{shared}, a second endpoint, Bob's desk, also has 2002).
    """

    def __init__(self, shared: bool = False, **kwargs: Any) -> None:
        self.setup = Engine(**kwargs)
        self.engine = self.setup.engine
        self.a, self.lineA = self.setup.endpoint("2001")
        self.b, self.lineB = self.setup.endpoint("2002")
        self.c, self.lineC = self.setup.endpoint("2003")
        if shared:
            self.desk = FakeEndpoint("2002 desk")
            self.setup.directory.add("2002", self.desk)

    def clear(self) -> None:
        """Forget what the endpoints were told so far."""
        for endpoint in (self.a, self.b, self.c) + ((self.desk,) if hasattr(self, "desk") else ()):
            endpoint.events.clear()

    def aCalls(self, number: str) -> Any:
        """@return: Alice's leg, dialling C{number}."""
        leg = self.engine.seize(self.a, self.lineA)
        self.setup.dial(leg, number)
        return leg

    def connected(self) -> tuple[Any, Any]:
        """@return: Alice's and Bob's legs of a connected call, the endpoints' events cleared."""
        legA = self.aCalls("2002")
        [legB] = self.engine.legsOf(self.b)
        self.engine.answer(legB)
        self.clear()
        return legA, legB

    def assertIdle(self, testCase: SynchronousTestCase) -> None:
        """No call, no leg, no transfer, no timer."""
        testCase.assertEqual((self.engine.calls(), self.engine.transfers(), self.setup.clock.getDelayedCalls()),
                             ([], [], []))
        for endpoint in (self.a, self.b, self.c):
            testCase.assertEqual(self.engine.legsOf(endpoint), [])


class FailureTests(SynchronousTestCase):
    """
    Calls that cannot be placed, and actions a leg cannot take.
    """

    def test_unknownNumber(self) -> None:
        """
        A number no directory knows fails at once with an unknown number.
        """
        calls = Calls()
        leg = calls.aCalls("29")
        self.assertEqual(calls.a.events[-1], ("failed", leg, FailureReason.UNKNOWN_NUMBER))
        self.assertEqual(leg.status, LegStatus.FAILED)
        calls.engine.hangUp(leg)
        calls.assertIdle(self)

    def test_busy(self) -> None:
        """
        A destination with a call, and the caller's own number, are busy.
        """
        calls = Calls()
        calls.connected()
        leg = calls.engine.seize(calls.c, calls.lineC)
        calls.setup.dial(leg, "2001")
        self.assertEqual(calls.c.events[-1], ("failed", leg, FailureReason.BUSY))
        calls.engine.hangUp(leg)
        other = Calls()
        own = other.aCalls("2001")
        self.assertEqual(other.a.events[-1], ("failed", own, FailureReason.BUSY))

    def test_outOfStateInputs(self) -> None:
        """
        The engine raises L{CallStateError} for actions a leg cannot take,
        and changes nothing: a dialling leg cannot be answered, held or
        resumed, and its endpoint cannot go off hook again.
        """
        calls = Calls()
        leg = calls.engine.seize(calls.a, calls.lineA)
        for action in (calls.engine.answer, calls.engine.hold, calls.engine.resume):
            error = self.assertRaises(CallStateError, action, leg)
            self.assertIn("in state dialing", str(error))
        self.assertRaises(CallStateError, calls.engine.seize, calls.a, calls.lineA)
        self.assertRaises(CallStateError, calls.engine.pickUp, calls.a, 0)
        self.assertEqual((leg.status, calls.a.names()), (LegStatus.DIALING, ["seized"]))

    def test_endpointGone(self) -> None:
        """
        An endpoint that disappears mid-call clears its calls: the other
        side is released, nothing is left.
        """
        calls = Calls()
        legA, legB = calls.connected()
        calls.engine.endpointGone(calls.b)
        self.assertEqual(calls.a.events[-1][0], "released")
        calls.assertIdle(self)


class HoldTests(SynchronousTestCase):
    """
    Hold and resume.
    """

    def test_holdAndResume(self) -> None:
        """
        Hold closes the media on both sides (the held side hears the hold
        tone on a clear-text call); resume reopens it, holder first.
        """
        calls = Calls()
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        self.assertEqual(calls.a.names(), ["held"])
        self.assertEqual(calls.b.events[0][0], "heldByRemote")
        self.assertIs(calls.b.events[0][3], True)
        calls.engine.resume(legA)
        self.assertEqual(calls.a.names()[1:], ["resumed", "openReceive"])
        self.assertEqual(calls.b.names()[1:], ["resumedByRemote", "openReceive"])

    def test_secureHoldHasNoTone(self) -> None:
        """
        On a secure call the held side hears no hold tone.
        """
        calls = Calls()
        calls.a.secure = calls.b.secure = True
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        self.assertIs(calls.b.events[0][3], False)

    def test_bothHold(self) -> None:
        """
        With both sides holding, media reopens only when both resumed.
        """
        calls = Calls()
        legA, legB = calls.connected()
        calls.engine.hold(legA)
        calls.engine.hold(legB)
        calls.clear()
        calls.engine.resume(legA)
        self.assertEqual((calls.a.names(), calls.b.names()), (["resumed"], []))
        calls.engine.resume(legB)
        self.assertEqual((calls.a.names()[1:], calls.b.names()), (["resumedByRemote", "openReceive"],
                                                                  ["resumed", "openReceive"]))


class TransferTests(SynchronousTestCase):
    """
    Transfer: the engine owns the transfers, the calls and their legs.
    """

    def test_consult(self) -> None:
        """
        With a second channel, Transfer holds the call and seizes a consult
        leg; Alice talks to Carol; Transfer again releases both of Alice's
        legs and connects Bob and Carol with new media.
        """
        calls = Calls(channelsPerDn=2)
        legA, legB = calls.connected()
        consult = calls.engine.transfer(legA)
        self.assertEqual((calls.a.names(), calls.b.names()), (["held", "seized"], ["heldByRemote"]))
        self.assertEqual([(t.held, t.consult, t.blind) for t in calls.engine.transfers()], [(legA, consult, False)])
        calls.setup.dial(consult, "2003")
        [legC] = calls.engine.legsOf(calls.c)
        calls.engine.answer(legC)
        calls.clear()
        self.assertIsNone(calls.engine.transfer(consult))
        self.assertEqual(calls.a.names(), ["released", "released"])
        self.assertEqual(calls.b.names(), ["connected", "openReceive"])
        self.assertEqual(calls.c.names(), ["heldByRemote", "connected", "openReceive"])
        [call] = calls.engine.calls()
        self.assertEqual((call.caller, call.callee, calls.engine.transfers()), (legB, legC, []))

    def test_blind(self) -> None:
        """
        Without a second channel the transfer completes as soon as Carol
        rings: Alice's legs are released, Bob hears Carol ringing, Carol
        rings for Bob.
        """
        calls = Calls()
        legA, legB = calls.connected()
        consult = calls.engine.transfer(legA)
        calls.setup.dial(consult, "2003")
        [legC] = calls.engine.legsOf(calls.c)
        self.assertEqual(calls.a.names()[-2:], ["released", "released"])
        self.assertEqual(calls.b.events[-1], ("transferred", legB, Party("2003"), True))
        self.assertEqual(calls.c.names(), ["alerting", "transferred"])
        self.assertEqual(calls.c.events[-1], ("transferred", legC, Party("2002"), False))
        self.assertEqual(calls.engine.legsOf(calls.a), [])
        [call] = calls.engine.calls()
        self.assertEqual((call.caller, call.callee), (legB, legC))

    def test_blindByPattern(self) -> None:
        """
        With full-consult and a second channel, a target matching a
        C{transfer-pattern ... blind} completes the transfer as soon as it
        rings (Alice released, Bob hears Carol ringing) and the log says
        why; a target matching no blind pattern stays a consultation.
        """
        calls = Calls(channelsPerDn=2, blindTransferPatterns=("20.3",))
        legA, legB = calls.connected()
        consult = calls.engine.transfer(legA)
        with capturedLogs() as events:
            calls.setup.dial(consult, "2003")
        [legC] = calls.engine.legsOf(calls.c)
        self.assertEqual(calls.a.names()[-2:], ["released", "released"])
        self.assertEqual(calls.b.events[-1], ("transferred", legB, Party("2003"), True))
        self.assertEqual(calls.c.names(), ["alerting", "transferred"])
        self.assertEqual((calls.engine.legsOf(calls.a), calls.engine.transfers()), ([], []))
        self.assertIn("2001: transfer to 2003 is blind (transfer-pattern blind)", [formatEvent(e) for e in events])
        self.assertEqual(legC.redirect, Redirect(Party("2001"), Party("2001"), ForwardReason.TRANSFER))
        other = Calls(channelsPerDn=2, blindTransferPatterns=("20.4",))
        legA, legB = other.connected()
        consult = other.engine.transfer(legA)
        other.setup.dial(consult, "2003")
        self.assertEqual(other.a.names()[-1], "ringback")
        self.assertEqual([t.consult for t in other.engine.transfers()], [consult])

    def test_blindAfterForward(self) -> None:
        """
        Alice called 2003, forwarded to Bob; Bob blind-transfers her to
        2004: 2004's redirect keeps the original called 2003 with Bob as
        last redirecting, reason transfer.
        """
        calls = Calls()
        d, _ = calls.setup.endpoint("2004")
        calls.engine.forwards.setAll("2003", "2002")
        calls.aCalls("2003")
        [legB] = calls.engine.legsOf(calls.b)
        calls.engine.answer(legB)
        calls.engine.forwards.setAll("2003", None)
        consult = calls.engine.transfer(legB)
        calls.setup.dial(consult, "2004")
        [legD] = calls.engine.legsOf(d)
        self.assertEqual(legD.redirect, Redirect(Party("2003"), Party("2002"), ForwardReason.TRANSFER))
        self.assertEqual(d.events[-1], ("transferred", legD, Party("2001"), False))

    def test_refusedTarget(self) -> None:
        """
        A consult leg dialling a number that is neither local nor allowed by
        a transfer-pattern fails (transfer refused) and is released; the
        held call resumes.
        """
        calls = Calls(channelsPerDn=2)
        legA, legB = calls.connected()
        consult = calls.engine.transfer(legA)
        calls.setup.dial(consult, "5")
        self.assertIn(("failed", consult, FailureReason.TRANSFER_REFUSED), calls.a.events)
        self.assertEqual(calls.a.names()[-3:], ["released", "resumed", "openReceive"])
        self.assertEqual((legA.status, calls.engine.transfers()), (LegStatus.CONNECTED, []))


class SharedLineTests(SynchronousTestCase):
    """
    One number on two endpoints: the call's alternates and monitors.
    """

    def test_answerHoldPickUp(self) -> None:
        """
        Both endpoints ring; the one that answers takes the call and the
        other shows it in use elsewhere (a monitor); held, it is picked up
        by the other, whose former owner shows it in use elsewhere in turn;
        the hang-up idles the monitor.
        """
        calls = Calls(shared=True)
        legA = calls.aCalls("2002")
        self.assertEqual((calls.b.names(), calls.desk.names()), (["alerting"], ["alerting"]))
        [legDesk] = calls.engine.legsOf(calls.desk)
        calls.engine.answer(legDesk)
        self.assertEqual((calls.b.names()[1:], calls.engine.legsOf(calls.b)), (["answeredElsewhere"], []))
        [call] = calls.engine.calls()
        [monitor] = call.monitors
        self.assertIs(monitor.endpoint, calls.b)
        calls.clear()
        calls.engine.hold(legDesk)
        self.assertEqual(calls.b.events, [("remoteHeld", monitor.line, monitor.reference)])
        legB = calls.engine.pickUp(calls.b, monitor.reference)
        self.assertEqual(calls.desk.names()[-1], "answeredElsewhere")
        self.assertEqual(calls.b.names()[1:], ["resumed", "openReceive"])
        self.assertEqual(calls.a.names()[1:], ["resumedByRemote", "openReceive"])
        self.assertEqual((call.callee, legB.callReference), (legB, monitor.reference))
        calls.engine.hangUp(legA)
        self.assertEqual(calls.desk.names()[-1], "remoteIdle")
        self.assertEqual(call.monitors, [])

    def test_ringingEndpointGone(self) -> None:
        """
        A shared-line endpoint that disappears while ringing leaves the call
        ringing on the other.
        """
        calls = Calls(shared=True)
        calls.aCalls("2002")
        calls.engine.endpointGone(calls.b)
        [call] = calls.engine.calls()
        self.assertEqual(call.callee.endpoint, calls.desk)
        self.assertEqual(call.callee.status, LegStatus.RING_IN)


class ForwardingTests(SynchronousTestCase):
    """
    Forward all, busy and no answer.
    """

    def test_forwardAll(self) -> None:
        """
        Forward-all rings the target instead, with the redirect (reason
        all, original number).
        """
        calls = Calls(forwards=ForwardSettings(all="2003"))
        calls.aCalls("2002")
        [legC] = calls.engine.legsOf(calls.c)
        self.assertEqual((calls.b.events, calls.c.names()), ([], ["alerting"]))
        self.assertEqual(legC.redirect, Redirect(Party("2002"), Party("2002"), ForwardReason.ALL))

    def test_forwardAllChain(self) -> None:
        """
        2002 forwards all to 2003, 2003 to 2004: a call to 2002 rings 2004
        with original called 2002 and last redirecting 2003; each hop is
        logged.
        """
        calls = Calls()
        d, _ = calls.setup.endpoint("2004")
        calls.engine.forwards.setAll("2002", "2003")
        calls.engine.forwards.setAll("2003", "2004")
        with capturedLogs() as events:
            calls.aCalls("2002")
        [legD] = calls.engine.legsOf(d)
        self.assertEqual((calls.b.events, calls.c.events, d.names()), ([], [], ["alerting"]))
        self.assertEqual(legD.redirect, Redirect(Party("2002"), Party("2003"), ForwardReason.ALL))
        texts = [formatEvent(e) for e in events]
        self.assertIn("2002 forwarded (all) to 2003", texts)
        self.assertIn("2003 forwarded (all) to 2004", texts)

    def test_forwardAllLoop(self) -> None:
        """
        2002 -> 2003 -> 2002 is a loop: the call rings 2003, the last number
        before it, the warning names the chain; Alice hangs up and
        everything is idle.
        """
        calls = Calls()
        calls.engine.forwards.setAll("2002", "2003")
        calls.engine.forwards.setAll("2003", "2002")
        with capturedLogs() as events:
            legA = calls.aCalls("2002")
        [legC] = calls.engine.legsOf(calls.c)
        self.assertEqual((calls.b.events, calls.c.names()), ([], ["alerting"]))
        self.assertEqual(legC.redirect, Redirect(Party("2002"), Party("2002"), ForwardReason.ALL))
        self.assertIn("forward-all loop after 2002 -> 2003 (next 2002); ringing 2003",
                      [formatEvent(e) for e in events])
        calls.engine.hangUp(legA)
        calls.assertIdle(self)

    def test_forwardAllMaxRedirect(self) -> None:
        """
        A chain longer than max-redirect (5) rings the fifth target and
        says why.
        """
        setup = Engine()
        a, lineA = setup.endpoint("2001")
        ends = [setup.endpoint("300%d" % i)[0] for i in range(7)]
        for i in range(6):
            setup.engine.forwards.setAll("300%d" % i, "300%d" % (i + 1))
        with capturedLogs() as events:
            setup.dial(setup.engine.seize(a, lineA), "3000")
        self.assertEqual([e.names() for e in ends], [[], [], [], [], [], ["alerting"], []])
        self.assertIn("forward-all max-redirect after 3000 -> 3001 -> 3002 -> 3003 -> 3004 -> 3005 "
                      "(next 3006); ringing 3005", [formatEvent(e) for e in events])

    def test_forwardBusy(self) -> None:
        """
        Forward-busy rings the target when the number is busy.
        """
        calls = Calls(forwards=ForwardSettings(busy="2003"))
        calls.engine.seize(calls.b, calls.lineB)
        calls.aCalls("2002")
        [legC] = calls.engine.legsOf(calls.c)
        self.assertEqual(legC.redirect, Redirect(Party("2002"), Party("2002"), ForwardReason.BUSY))

    def test_forwardNoAnswer(self) -> None:
        """
        After the no-answer timeout the first callee is released, the
        caller is told the new called party, and the target rings with the
        redirect; a busy target leaves the call ringing.
        """
        calls = Calls(forwards=ForwardSettings(noAnswer="2003", noAnswerTimeout=8))
        legA = calls.aCalls("2002")
        calls.setup.clock.advance(7)
        self.assertEqual(calls.c.events, [])
        calls.setup.clock.advance(1)
        self.assertEqual(calls.b.names()[-1], "released")
        self.assertEqual(calls.a.events[-1], ("redirected", legA, Party("2003")))
        [legC] = calls.engine.legsOf(calls.c)
        self.assertEqual(legC.redirect, Redirect(Party("2002"), Party("2002"), ForwardReason.NO_ANSWER))
        busy = Calls(forwards=ForwardSettings(noAnswer="2003", noAnswerTimeout=8))
        busy.engine.seize(busy.c, busy.lineC)
        busy.aCalls("2002")
        busy.setup.clock.advance(8)
        self.assertEqual(busy.engine.calls()[0].callee.status, LegStatus.RING_IN)


class DialplanPatternTests(SynchronousTestCase):
    """
    C{dialplan-pattern} in the engine: a full number dialled reaches its
    extension, an external call presents the caller's full number, and a
    full number of no extension fails cleanly.
    """

    def setUp(self) -> None:
        self.setup = Engine(dialplanPatterns=[DialplanPattern(1, "40855501..", 4)],
                            aliases=Aliases([Alias(1, "60..", "0123")]))
        self.a, self.lineA = self.setup.endpoint("0124")
        self.b, _ = self.setup.endpoint("0123")
        self.port, _ = self.setup.endpoint("95551234", port="1/0/0", outside=True)

    def test_fullNumberReachesExtension(self) -> None:
        """
        Dialling C{4085550123} rings extension C{0123} as soon as the tenth
        digit is in (no inter-digit wait); the call is local, so the callee
        sees the caller's extension; the log says which pattern applied.
        """
        with capturedLogs() as events:
            leg = self.setup.engine.seize(self.a, self.lineA)
            self.setup.dial(leg, "4085550123")
        self.assertEqual(self.b.events[0][0::2], ("alerting", Party("0124")))
        self.assertIn("4085550123 is extension 0123 (dialplan-pattern 1)",
                      [formatEvent(e) for e in events])
        self.assertEqual(self.setup.clock.getDelayedCalls(), [])

    def test_externalCallPresentsFullNumber(self) -> None:
        """
        A call to a number outside the pattern (a voice port's C{9...}) is
        external: the port is offered, and connected to, the caller's full
        number; a call to a local extension keeps the extension.
        """
        self.port.reactions["alerting"] = lambda leg, caller: self.setup.engine.answer(leg)
        leg = self.setup.engine.seize(self.a, self.lineA)
        self.setup.dial(leg, "95551234")
        self.assertEqual(self.port.events[0][0::2], ("alerting", Party("4085550124")))
        [connected] = [e for e in self.port.events if e[0] == "connected"]
        self.assertEqual(connected[2], Party("4085550124"))
        [callerSees] = [e for e in self.a.events if e[0] == "connected"]
        self.assertEqual(callerSees[2], Party("95551234"))

    def test_aliasToPhoneIsLocal(self) -> None:
        """
        A call to C{6001}, a number outside every pattern that an C{alias}
        reroutes to phone C{0123}, stays between phones: the callee is
        offered, and connected to, the caller's extension, not its full
        number (only a call leaving through a voice port is external).
        """
        self.b.reactions["alerting"] = lambda leg, caller: self.setup.engine.answer(leg)
        leg = self.setup.engine.seize(self.a, self.lineA)
        self.setup.dial(leg, "6001")
        self.assertEqual(self.b.events[0][0::2], ("alerting", Party("0124")))
        [connected] = [e for e in self.b.events if e[0] == "connected"]
        self.assertEqual(connected[2], Party("0124"))
        self.assertFalse(self.setup.engine.calls()[0].external)

    def test_fullNumberOfNobody(self) -> None:
        """
        The start of a full number waits for more digits (it is not
        reorder at once); a full number whose extension is nobody's fails
        as an unknown number, leaves no call and the phone dials again.
        """
        leg = self.setup.engine.seize(self.a, self.lineA)
        self.setup.dial(leg, "408")
        self.assertNotIn("failed", self.a.names())
        self.setup.dial(leg, "5550199")
        self.assertEqual(self.a.events[-1], ("failed", leg, FailureReason.UNKNOWN_NUMBER))
        self.assertEqual(self.setup.engine.calls(), [])
        self.setup.engine.hangUp(leg)
        again = self.setup.engine.seize(self.a, self.lineA)
        self.setup.dial(again, "4085550123")
        self.assertEqual(self.b.names(), ["alerting"])


class CallPickUpTests(SynchronousTestCase):
    """
    Call pickup (IOS C{PickUp}, C{GPickUp}): a call ringing elsewhere moves
    to the endpoint that picks it up.
    """

    def test_groupPickUp(self) -> None:
        """
        Alice calls Bob; Carol's group pickup takes the call: Bob is
        released (stops ringing), Carol's new leg is the callee, Alice is
        connected to Carol, and the media opens between Alice and Carol.
        """
        calls = Calls()
        legA = calls.aCalls("2002")
        [legB] = calls.engine.legsOf(calls.b)
        calls.clear()
        with capturedLogs() as events:
            legC = calls.engine.groupPickUp(calls.c, calls.lineC, ["2002", "2003"])
        self.assertEqual(calls.b.names(), ["released"])
        self.assertEqual(legB.status, LegStatus.RELEASED)
        [call] = calls.engine.calls()
        self.assertEqual((call.caller, call.callee, legC.status), (legA, legC, LegStatus.CONNECTED))
        self.assertEqual(calls.c.names(), ["seized", "openReceive", "connected"])
        self.assertIn(("connected", legA, Party("2003"), False), calls.a.events)
        self.assertEqual([n for n in calls.a.names() if n == "openReceive"], ["openReceive"])
        self.assertIn("call 1: 2003 picked up 2002 ringing from 2001", [formatEvent(e) for e in events])
        calls.engine.hangUp(legC)
        calls.assertIdle(self)

    def test_groupPickUpNothingRinging(self) -> None:
        """
        Group pickup with nothing ringing in the group is refused and the
        endpoint is left idle; a call ringing a number outside the group is
        not taken.
        """
        calls = Calls()
        calls.aCalls("2002")
        calls.clear()
        with capturedLogs() as events:
            error = self.assertRaises(CallStateError, calls.engine.groupPickUp, calls.c, calls.lineC, ["2009"])
        self.assertEqual(str(error), "cannot pick up with no call ringing in state no call")
        self.assertIn("2003: group pickup: no call ringing in the group", [formatEvent(e) for e in events])
        self.assertEqual((calls.c.events, calls.engine.legsOf(calls.c), calls.b.events), ([], [], []))

    def test_groupPickUpOldest(self) -> None:
        """
        With two calls ringing in the group, the oldest is picked up.
        """
        setup = Engine()
        a, lineA = setup.endpoint("2001")
        b, _ = setup.endpoint("2002")
        c, lineC = setup.endpoint("2003")
        d, _ = setup.endpoint("2004")
        e, lineE = setup.endpoint("2005")
        first = setup.engine.seize(a, lineA)
        setup.dial(first, "2004")
        second = setup.engine.seize(c, lineC)
        setup.dial(second, "2002")
        leg = setup.engine.groupPickUp(e, lineE, ["2002", "2004"])
        self.assertIs(leg.call.caller, first)
        self.assertEqual(d.names()[-1], "released")
        self.assertEqual(b.names(), ["alerting"])

    def test_directedPickUp(self) -> None:
        """
        PickUp then the ringing number: the call moves to the dialling leg;
        the picked-up number is not recorded as dialled for Redial (the
        leg is no longer outgoing).
        """
        calls = Calls()
        legA = calls.aCalls("2002")
        legC = calls.engine.directedPickUp(calls.c, calls.lineC)
        self.assertEqual(legC.status, LegStatus.DIALING)
        calls.setup.dial(legC, "2002")
        self.assertEqual(calls.b.names()[-1], "released")
        self.assertEqual((legC.status, legA.status, legC.outgoing), (LegStatus.CONNECTED, LegStatus.CONNECTED, False))
        self.assertEqual(calls.setup.clock.getDelayedCalls(), [])

    def test_directedPickUpNothingRinging(self) -> None:
        """
        PickUp then a number that exists but is not ringing: nothing to
        pick up (the leg fails), the call ringing elsewhere is untouched,
        hanging up leaves the endpoint idle; PickUp of a number nobody has
        is an unknown number.
        """
        calls = Calls()
        calls.aCalls("2002")
        legC = calls.engine.directedPickUp(calls.c, calls.lineC)
        with capturedLogs() as events:
            calls.setup.dial(legC, "2001")
        self.assertEqual(calls.c.events[-1], ("failed", legC, FailureReason.NOTHING_TO_PICK_UP))
        self.assertIn("2003: pickup of 2001: no call ringing there", [formatEvent(e) for e in events])
        self.assertEqual(calls.b.names(), ["alerting"])
        calls.engine.hangUp(legC)
        self.assertEqual(calls.engine.legsOf(calls.c), [])
        legC = calls.engine.directedPickUp(calls.c, calls.lineC)
        calls.setup.dial(legC, "29")
        self.assertEqual(calls.c.events[-1], ("failed", legC, FailureReason.UNKNOWN_NUMBER))
        calls.engine.hangUp(legC)
        self.assertEqual(calls.engine.legsOf(calls.c), [])

    def test_pickUpInCall(self) -> None:
        """
        An endpoint in a call cannot pick up; nothing changes.
        """
        calls = Calls()
        calls.connected()
        legC = calls.engine.seize(calls.c, calls.lineC)
        calls.setup.dial(legC, "2001")
        self.assertRaises(CallStateError, calls.engine.groupPickUp, calls.c, calls.lineC, ["2001"])
        self.assertRaises(CallStateError, calls.engine.directedPickUp, calls.c, calls.lineC)
