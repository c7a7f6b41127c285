"""
Tests for L{srst.tools._phoneclient}: the simulated phone's session, with
the router scripted by hand over a L{StringTransport} and a L{Clock}
(L{tests.phonehelpers.ScriptedPhone}): registration, rejection and
timeouts, keepalives, unregistration, the call-control senders and the
debug lines.
"""

import ipaddress

from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from srst.debug import DebugSwitches
from srst.sccp import messages as m
from srst.sccp.constants import (
    Codec,
    DeviceType,
    SoftKeyEvent,
    Stimulus,
    UnregisterStatus,
)
from srst.tools._phoneclient import DEBUG_NAMESPACE, SimulatedPhone
from srst.tools._phonetypes import (
    PhoneConfig,
    PhoneDisconnected,
    PhoneState,
    PhoneStateError,
    RegistrationRejected,
    RegistrationTimedOut,
    UnregisterRefused,
    UnregisterTimedOut,
)
from tests.phonehelpers import (
    BUTTONS,
    MAC,
    VERSION,
    ScriptedPhone,
    answerFor,
    names,
    registerAck,
)


class RegistrationTests(SynchronousTestCase):
    """
    The registration sequence of a 79xx (sccp.md 4.1), scripted by hand.
    """

    def test_registerOnConnect(self):
        """On connect the phone sends Register with its name, type, version and address."""
        p = ScriptedPhone(self)
        [register] = p.sent()
        self.assertIsInstance(register, m.Register)
        self.assertEqual(register.deviceName, "SEP001122334455")
        self.assertEqual(register.deviceType, DeviceType.PHONE_7970)
        self.assertEqual(register.protocolVersion, 11)
        self.assertEqual(register.stationIpAddr,
                         ipaddress.IPv4Address("10.0.0.1"))
        self.assertEqual(register.instance, 1)
        self.assertIs(p.phone.state, PhoneState.REGISTERING)

    def test_registerLongForm(self):
        """A phone advertising protocol 17 sends the long Register with its MAC and firmware."""
        p = ScriptedPhone(self, protocolVersion=17, deviceType=115,
                          stationIpAddr=ipaddress.IPv4Address("192.0.2.7"))
        [register] = p.sent()
        self.assertEqual(register.protocolVersion, 17)
        self.assertEqual(register.deviceType, 115)
        self.assertEqual(register.stationIpAddr,
                         ipaddress.IPv4Address("192.0.2.7"))
        self.assertEqual(register.macAddress,
                         bytes.fromhex(MAC) + b"\x00" * 6)
        self.assertEqual(register.loadInfo, p.config.loadInfo)

    def test_alarmFirst(self):
        """With sendAlarm, an informational Alarm naming the phone precedes Register."""
        p = ScriptedPhone(self, sendAlarm=True, alarmLast="TCP-timeout")
        alarm, register = p.sent()
        self.assertIsInstance(alarm, m.Alarm)
        self.assertIn("Name=SEP001122334455", alarm.text)
        self.assertIn("Last=TCP-timeout", alarm.text)
        self.assertIsInstance(register, m.Register)

    def test_capabilitiesAndFirstRequests(self):
        """CapabilitiesReq is answered with G.711 and G.729, then the template requests in one write."""
        p = ScriptedPhone(self)
        p.sent()
        p.receive(registerAck(), m.CapabilitiesReq())
        writes = p.transport.value()
        answer = p.sent()
        self.assertEqual(names(answer), [
            "CapabilitiesRes", "ButtonTemplateReq", "SoftKeyTemplateReq",
            "SoftKeySetReq", "ConfigStatReq"])
        self.assertEqual(
            [c.payloadCapability for c in answer[0].capabilities],
            [Codec.G711_ULAW_64K, Codec.G711_ALAW_64K, Codec.G729])
        self.assertEqual(len(writes), sum(
            len(m.encodeMessage(msg, protocolVersion=VERSION))
            for msg in answer))
        self.assertIs(p.phone.state, PhoneState.CONFIGURING)

    def test_secondRequestsFollowButtons(self):
        """The button template makes the phone ask for each line, forward and speed dial, then the time."""
        p = ScriptedPhone(self)
        p.acked()
        p.receive(m.ButtonTemplate(buttons=BUTTONS))
        requests = p.sent()
        self.assertEqual(names(requests), [
            "LineStatReq", "ForwardStatReq", "LineStatReq", "ForwardStatReq",
            "SpeedDialStatReq", "RegisterAvailableLines", "TimeDateReq"])
        self.assertEqual([r.lineNumber for r in requests[:4]], [1, 1, 2, 2])
        self.assertEqual(requests[4].speedDialNumber, 1)
        self.assertEqual(requests[5].maxNumOfAvailLines, 2)
        self.assertEqual(p.phone.settings.lines, [1, 2])
        self.assertEqual(p.phone.settings.speedDials, [1])

    def test_optionalRequests(self):
        """ConfigStatReq and ForwardStatReq are left out when configured so."""
        p = ScriptedPhone(self, requestConfigStat=False,
                          requestForwardStat=False)
        self.assertNotIn("ConfigStatReq", names(p.acked()))
        p.receive(m.ButtonTemplate(buttons=BUTTONS[:1]))
        self.assertEqual(names(p.sent()), [
            "LineStatReq", "RegisterAvailableLines", "TimeDateReq"])

    def test_registeredWhenAllAnswered(self):
        """whenRegistered fires once every request, DefineTimeDate last, has its answer."""
        p = ScriptedPhone(self)
        d = p.phone.whenRegistered()
        requests = p.acked()
        for request in requests:
            p.receive(*answerFor(request))
        second = p.sent()
        for request in second[:-1]:
            p.receive(*answerFor(request))
        self.assertNoResult(d)
        self.assertIs(p.phone.state, PhoneState.CONFIGURING)
        p.clock.advance(5)
        p.receive(*answerFor(second[-1]))
        self.assertIs(self.successResultOf(d), p.phone)
        self.assertIs(p.phone.state, PhoneState.REGISTERED)
        self.assertEqual(p.phone.registeredAt, 5)
        self.assertEqual(p.phone.connectedAt, 0)
        self.assertIs(self.successResultOf(p.phone.whenRegistered()), p.phone)

    def test_recordsEverything(self):
        """Every received message is recorded in order, and the state it carries is kept."""
        p = ScriptedPhone(self)
        p.register()
        p.receive(m.DisplayPromptStatus(promptStatus=m.LABEL_CM_FALLBACK))
        received = names(p.phone.received)
        self.assertEqual(received[:5], [
            "RegisterAck", "CapabilitiesReq", "ButtonTemplate",
            "SoftKeyTemplateRes", "SoftKeySetRes"])
        self.assertEqual(received[-2:], ["DefineTimeDate",
                                         "DisplayPromptStatus"])
        self.assertEqual(sorted(p.phone.settings.lineStats), [1, 2])
        self.assertEqual(p.phone.settings.lineStats[2].lineDirNumber, "1002")
        self.assertEqual(sorted(p.phone.settings.forwardStats), [1, 2])
        self.assertEqual(p.phone.settings.speedDialStats[1].speedDialDirNumber, "2000")
        self.assertEqual(p.phone.settings.configStat.numberOfLines, 2)
        self.assertEqual(p.phone.settings.timeDate.year, 2030)
        self.assertEqual(p.phone.settings.softKeySet, 0)
        self.assertEqual(p.phone.settings.prompt, m.LABEL_CM_FALLBACK)
        self.assertEqual(len(p.phone.receivedOfType(m.LineStat)), 2)
        self.assertEqual(names(p.phone.sent)[:2],
                         ["Register", "CapabilitiesRes"])

    def test_capabilitiesWaitFallback(self):
        """Without CapabilitiesReq the phone asks for its configuration after capabilitiesWait."""
        p = ScriptedPhone(self, capabilitiesWait=2.0)
        p.sent()
        p.receive(registerAck())
        self.assertEqual(p.sent(), [])
        p.clock.advance(2)
        self.assertEqual(names(p.sent())[0], "ButtonTemplateReq")
        p.receive(m.CapabilitiesReq())
        self.assertEqual(names(p.sent()), ["CapabilitiesRes"])

    def test_noCapabilitiesWait(self):
        """With capabilitiesWait 0 the requests go out with RegisterAck."""
        p = ScriptedPhone(self, capabilitiesWait=0)
        p.sent()
        p.receive(registerAck())
        self.assertEqual(names(p.sent())[0], "ButtonTemplateReq")

    def test_negotiatedVersion(self):
        """The version in RegisterAck is used for everything after it."""
        p = ScriptedPhone(self, protocolVersion=17)
        p.acked(version=6)
        self.assertEqual(p.phone.negotiatedVersion, 6)
        self.assertEqual(p.protocol.protocolVersion, 6)
        self.assertEqual(p.phone.keepAliveInterval, 30)

    def test_negotiatedVersionCapped(self):
        """A RegisterAck version above the phone's own is capped to the phone's."""
        p = ScriptedPhone(self, protocolVersion=8)
        p.acked(version=11)
        self.assertEqual(p.phone.negotiatedVersion, 8)

    def test_registerAckTwice(self):
        """A second RegisterAck is recorded but changes nothing."""
        p = ScriptedPhone(self)
        p.register()
        p.receive(registerAck(version=5, keepAlive=99))
        self.assertEqual(p.phone.negotiatedVersion, VERSION)
        self.assertEqual(p.phone.keepAliveInterval, 30)
        self.assertIs(p.phone.state, PhoneState.REGISTERED)

    def test_decodeOnlyState(self):
        """With decodeAll off, only state messages are decoded; answers are still counted."""
        p = ScriptedPhone(self, decodeAll=False)
        d = p.phone.whenRegistered()
        p.register()
        self.assertIs(self.successResultOf(d), p.phone)
        self.assertEqual(names(p.phone.received), [
            "RegisterAck", "CapabilitiesReq", "ButtonTemplate"])
        self.assertEqual(p.phone.skipped, 10)
        self.assertEqual(p.phone.settings.lineStats, {})
        self.assertEqual(p.phone.settings.lines, [1, 2])

    def test_observersGetEverything(self):
        """An observer makes the phone decode every message even with decodeAll off."""
        p = ScriptedPhone(self, decodeAll=False)
        seen = []
        p.phone.addMessageObserver(seen.append)
        p.register()
        self.assertEqual(p.phone.skipped, 0)
        self.assertIn("DefineTimeDate", names(seen))

    def test_unsolicitedAnswersIgnored(self):
        """An unrequested LineStat before the template counts for nothing."""
        p = ScriptedPhone(self)
        d = p.phone.whenRegistered()
        p.acked()
        p.receive(m.LineStat(lineNumber=9), m.DefineTimeDate())
        self.assertNoResult(d)


class RejectAndTimeoutTests(SynchronousTestCase):
    """
    Registration that does not complete.
    """

    def test_reject(self):
        """RegisterReject fails whenRegistered, fires whenRejected and closes the connection."""
        p = ScriptedPhone(self)
        registered = p.phone.whenRegistered()
        rejected = p.phone.whenRejected()
        p.receive(m.RegisterReject(text="Max phones"))
        self.assertEqual(self.successResultOf(rejected).text, "Max phones")
        e = self.failureResultOf(registered, RegistrationRejected).value
        self.assertEqual(str(e), "SEP001122334455: Max phones")
        self.assertEqual(p.phone.rejectText, "Max phones")
        self.assertFalse(p.transport.connected)
        self.assertIs(p.phone.state, PhoneState.CLOSED)
        self.assertEqual(p.clock.getDelayedCalls(), [])
        self.successResultOf(p.phone.whenDisconnected())

    def test_whenRejectedFailsOnClose(self):
        """whenRejected fails with PhoneDisconnected when the connection ends without a reject."""
        p = ScriptedPhone(self)
        rejected = p.phone.whenRejected()
        p.transport.loseConnection()
        e = self.failureResultOf(rejected, PhoneDisconnected).value
        self.assertIn("registering", str(e))

    def test_timeout(self):
        """A registration not complete within registrationTimeout fails and aborts."""
        p = ScriptedPhone(self, registrationTimeout=10)
        d = p.phone.whenRegistered()
        p.acked()
        p.clock.advance(9.9)
        self.assertNoResult(d)
        p.clock.advance(0.1)
        self.failureResultOf(d, RegistrationTimedOut)
        self.assertFalse(p.transport.connected)
        self.assertEqual(p.clock.getDelayedCalls(), [])

    def test_noTimeout(self):
        """With registrationTimeout None the phone waits for ever."""
        p = ScriptedPhone(self, registrationTimeout=None)
        p.clock.advance(3600)
        self.assertIs(p.phone.state, PhoneState.REGISTERING)
        self.assertEqual(p.clock.getDelayedCalls(), [])

    def test_lostBeforeRegistration(self):
        """A connection lost mid-registration fails whenRegistered and cancels every timer."""
        p = ScriptedPhone(self)
        d = p.phone.whenRegistered()
        p.acked()
        p.protocol.connectionLost(Failure(ConnectionLost("reset")))
        e = self.failureResultOf(d, PhoneDisconnected).value
        self.assertIn("configuring", str(e))
        self.assertIn("reset", str(e))
        self.assertEqual(p.clock.getDelayedCalls(), [])
        reason = self.successResultOf(p.phone.whenDisconnected())
        self.assertIsInstance(reason, ConnectionLost)

    def test_connectionFailed(self):
        """A connection that never came up fails the phone's waiters."""
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=Clock())
        d = phone.whenRegistered()
        phone.connectionFailed(Failure(ConnectionLost("refused")))
        self.failureResultOf(d, PhoneDisconnected)
        self.assertIs(phone.state, PhoneState.CLOSED)

    def test_unknownMessage(self):
        """An unknown message id is recorded and ignored."""
        p = ScriptedPhone(self)
        p.receive(m.UnknownMessage(0x7777, b"abcd"))
        self.assertEqual(p.phone.received, [m.UnknownMessage(0x7777, b"abcd")])
        self.assertTrue(p.transport.connected)

    def test_reset(self):
        """A Reset from the router is recorded and the phone closes."""
        p = ScriptedPhone(self)
        p.register()
        p.receive(m.Reset(resetType=2))
        self.assertFalse(p.transport.connected)
        self.assertIsInstance(p.phone.received[-1], m.Reset)


class KeepAliveTests(SynchronousTestCase):
    """
    Keepalives on the phone's clock.
    """

    def test_cadence(self):
        """A registered phone sends KeepAlive every keepAliveInterval seconds."""
        p = ScriptedPhone(self)
        p.register(keepAlive=20)
        p.sent()
        p.clock.advance(19.9)
        self.assertEqual(p.sent(), [])
        p.clock.advance(0.1)
        self.assertEqual(p.sent(), [m.KeepAlive()])
        p.receive(m.KeepAliveAck())
        p.clock.advance(20)
        self.assertEqual(p.sent(), [m.KeepAlive()])
        self.assertEqual(p.phone.keepAlivesSent, 2)
        self.assertEqual(p.phone.keepAliveAcks, 1)

    def test_routerGone(self):
        """After maxMissedKeepAlives unanswered KeepAlives the phone aborts the connection."""
        p = ScriptedPhone(self, maxMissedKeepAlives=3)
        p.register(keepAlive=10)
        disconnected = p.phone.whenDisconnected()
        p.clock.pump([10, 10, 10])
        self.assertEqual(p.phone.keepAlivesSent, 3)
        self.assertTrue(p.transport.connected)
        p.clock.advance(10)
        self.assertFalse(p.transport.connected)
        self.successResultOf(disconnected)
        self.assertEqual(p.clock.getDelayedCalls(), [])

    def test_acksKeepItAlive(self):
        """Answered KeepAlives keep the registration up for as long as they are answered."""
        p = ScriptedPhone(self)
        p.register(keepAlive=10)
        for _ in range(10):
            p.clock.advance(10)
            p.receive(m.KeepAliveAck())
        self.assertTrue(p.transport.connected)
        self.assertEqual(p.phone.keepAlivesSent, 10)

    def test_standby(self):
        """A standby phone only sends KeepAlives, at its standby interval."""
        p = ScriptedPhone(self, standby=True, standbyKeepAliveInterval=60)
        self.assertEqual(p.sent(), [m.KeepAlive()])
        self.assertIs(p.phone.state, PhoneState.STANDBY)
        p.receive(m.KeepAliveAck())
        p.clock.advance(59)
        self.assertEqual(p.sent(), [])
        p.clock.advance(1)
        self.assertEqual(p.sent(), [m.KeepAlive()])
        self.assertNoResult(p.phone.whenRegistered())

    def test_standbyRegisters(self):
        """register() turns a standby connection into a registration."""
        p = ScriptedPhone(self, standby=True)
        p.sent()
        p.phone.register()
        [register] = p.sent()
        self.assertIsInstance(register, m.Register)
        p.register()
        self.assertIs(p.phone.state, PhoneState.REGISTERED)
        self.assertEqual(len(p.clock.getDelayedCalls()), 1)

    def test_registerNeedsStandby(self):
        """register() on a phone that is not in standby raises PhoneStateError."""
        p = ScriptedPhone(self)
        self.assertRaises(PhoneStateError, p.phone.register)


class UnregisterTests(SynchronousTestCase):
    """
    Leaving the router.
    """

    def test_unregister(self):
        """unregister sends Unregister and closes after an OK UnregisterAck."""
        p = ScriptedPhone(self)
        p.register()
        p.sent()
        d = p.phone.unregister()
        self.assertEqual(p.sent(), [m.Unregister()])
        self.assertIs(p.phone.state, PhoneState.UNREGISTERING)
        self.assertNoResult(d)
        p.receive(m.UnregisterAck(status=UnregisterStatus.OK))
        self.assertFalse(p.transport.connected)
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(p.clock.getDelayedCalls(), [])

    def test_refused(self):
        """A NAK leaves the phone registered, still sending keepalives."""
        p = ScriptedPhone(self)
        p.register()
        d = p.phone.unregister()
        p.receive(m.UnregisterAck(status=UnregisterStatus.NAK))
        self.failureResultOf(d, UnregisterRefused)
        self.assertIs(p.phone.state, PhoneState.REGISTERED)
        self.assertTrue(p.transport.connected)
        p.sent()
        p.clock.advance(30)
        self.assertEqual(p.sent(), [m.KeepAlive()])

    def test_timeout(self):
        """Without UnregisterAck the phone gives up after unregisterTimeout and aborts."""
        p = ScriptedPhone(self, unregisterTimeout=5)
        p.register()
        d = p.phone.unregister()
        p.clock.advance(5)
        self.failureResultOf(d, UnregisterTimedOut)
        self.assertFalse(p.transport.connected)

    def test_closedWithoutAck(self):
        """A connection closed before UnregisterAck fails the unregister."""
        p = ScriptedPhone(self)
        p.register()
        d = p.phone.unregister()
        p.transport.loseConnection()
        self.failureResultOf(d, PhoneDisconnected)

    def test_notRegistered(self):
        """unregister before RegisterAck fails with PhoneStateError."""
        p = ScriptedPhone(self)
        self.failureResultOf(p.phone.unregister(), PhoneStateError)

    def test_stop(self):
        """stop closes without Unregister and fires once disconnected."""
        p = ScriptedPhone(self)
        p.register()
        p.sent()
        d = p.phone.stop()
        self.assertEqual(p.sent(), [])
        self.successResultOf(d)
        self.assertEqual(p.clock.getDelayedCalls(), [])

    def test_stopIdle(self):
        """stop on a phone that never connected settles it at once."""
        phone = SimulatedPhone(PhoneConfig(mac=MAC), clock=Clock())
        self.successResultOf(phone.stop())
        self.failureResultOf(phone.whenRegistered(), PhoneDisconnected)


class CallControlHookTests(SynchronousTestCase):
    """
    The senders and observers left for call control.
    """

    def test_needsRegistration(self):
        """Call-control senders refuse to work before registration."""
        p = ScriptedPhone(self)
        self.assertRaises(PhoneStateError, p.phone.offHook)
        self.assertRaises(PhoneStateError, p.phone.pressKeys, "1")

    def test_senders(self):
        """offHook, pressKeys, softKey, stimulus and onHook send their messages."""
        p = ScriptedPhone(self)
        p.register()
        p.sent()
        p.phone.offHook(1, 0)
        p.phone.pressKeys("1*#", lineInstance=1, callReference=7)
        p.phone.softKey(SoftKeyEvent.END_CALL, 1, 7)
        p.phone.stimulus(Stimulus.HOLD, 1, 7)
        p.phone.onHook(1, 7)
        p.phone.sendMessage(m.HeadsetStatus(headsetStatus=1))
        sent = p.sent()
        self.assertEqual(names(sent), [
            "OffHook", "KeypadButton", "KeypadButton", "KeypadButton",
            "SoftKeyEvent", "Stimulus", "OnHook", "HeadsetStatus"])
        self.assertEqual([k.kpButton for k in sent[1:4]], [1, 0x0E, 0x0F])
        self.assertEqual(sent[4].softKeyEvent, SoftKeyEvent.END_CALL)
        self.assertEqual(sent[6].callReference, 7)

    def test_badDigit(self):
        """A character that is not on a keypad raises ValueError and sends nothing."""
        p = ScriptedPhone(self)
        p.register()
        p.sent()
        self.assertRaises(ValueError, p.phone.pressKeys, "1x")
        self.assertEqual(p.sent(), [])

    def test_observers(self):
        """Observers see every message after the phone handled it, until removed."""
        p = ScriptedPhone(self)
        seen = []
        p.phone.addMessageObserver(seen.append)
        p.receive(registerAck())
        p.phone.removeMessageObserver(seen.append)
        p.receive(m.CapabilitiesReq())
        self.assertEqual(names(seen), ["RegisterAck"])

    def test_sendWhenClosed(self):
        """sendMessage on a closed phone raises PhoneStateError."""
        p = ScriptedPhone(self)
        p.transport.loseConnection()
        self.assertRaises(PhoneStateError, p.phone.sendMessage, m.KeepAlive())


class DebugTests(SynchronousTestCase):
    """
    A phone's debug lines go through the debug switches it is given.
    """

    def test_registeredLine(self):
        """With C{srst.debug.phone} on, completing registration logs one debug line with the device, version, keepalive and lines."""
        events = []
        switches = DebugSwitches(events.append)
        switches.enable(DEBUG_NAMESPACE)
        p = ScriptedPhone(self, debug=switches)
        p.register(keepAlive=20)
        [event] = [e for e in events if e["log_namespace"] == DEBUG_NAMESPACE]
        self.assertEqual((event["device"], event["version"], event["interval"], event["lines"]),
                         ("SEP" + MAC, VERSION, 20, [1, 2]))

    def test_offByDefault(self):
        """A phone given no switches has its own, all off: its debug lines reach no observer, not even the global one."""
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        ScriptedPhone(self).register()
        self.assertEqual([e for e in events if e["log_namespace"].startswith("srst.debug")], [])
