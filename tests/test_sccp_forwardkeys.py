"""
Tests for L{srst.sccp.forwardkeys}: the CFwdAll softkey dialogue of SCCP
phones (sccp.md 5.4 (i)), asserting the exact messages each in-memory phone
receives.
"""

from __future__ import annotations

import gc
import weakref

from twisted.trial.unittest import SynchronousTestCase

from srst.calls.forward import ForwardReason
from srst.sccp import messages as m
from srst.sccp.callendpoint import ALL_KEYS
from srst.sccp.config import CallForward
from srst.sccp.constants import CallState, SoftKeyEvent, SoftKeySet, SpeakerMode, Stimulus
from tests.callhelpers import MAC_B, Phones, callConfig, callState, dial, forwardedInfo, keys
from tests.test_sccp_station import types


class CallForwardKeysTests(SynchronousTestCase):
    """
    The CFwdAll softkey and button dialogue.
    """

    def test_softKeySetsForward(self) -> None:
        """
        CFwdAll opens "Enter number" on a fresh reference; the digits and
        '#' give ForwardStat(active), OnHook, OnHook keys, speaker off and
        "Forwarded to 2003"; a call to Bob then rings Carol.
        """
        phones = Phones()
        ref = 1
        self.assertEqual(phones.b.ask(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0)), [
            callState(CallState.OFF_HOOK, ref), keys(SoftKeySet.OFF_HOOK_FEATURES, ref),
            m.SetSpeakerMode(SpeakerMode.ON), m.DisplayPromptStatus(0, m.LABEL_ENTER_NUMBER, 1, ref)])
        dial(phones.b, "2003")
        self.assertEqual(phones.b.received(), [])
        self.assertEqual(phones.b.ask(m.KeypadButton(15)), [
            m.ForwardStat(1, 1, 1, "2003", 0, "", 0, ""), callState(CallState.ON_HOOK, ref),
            m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS), m.SetSpeakerMode(SpeakerMode.OFF),
            m.DisplayNotify(10, m.LABEL_FORWARDED_TO + "2003")])
        phones.aCallsBob()
        self.assertEqual(phones.b.received(), [])
        self.assertEqual(phones.c.received()[4], forwardedInfo(3, "2002", ForwardReason.ALL, "Bob"))
        phones.a.send(m.OnHook())
        phones.assertAllIdle(self)

    def test_softKeyCancels(self) -> None:
        """
        CFwdAll on a forwarded line sends ForwardStat all zero and calls
        ring the phone again.
        """
        phones = Phones()
        phones.b.send(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0))
        dial(phones.b, "2003#")
        phones.b.received()
        self.assertEqual(phones.b.ask(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0)),
                         [m.ForwardStat(0, 1, 0, "", 0, "", 0, "")])
        phones.aCallsBob()
        self.assertEqual(types(phones.b.received())[0], "CallState")
        self.assertEqual(phones.c.received(), [])
        phones.a.send(m.OnHook())
        phones.assertAllIdle(self)

    def test_keyAgainOrTimeoutEndsInput(self) -> None:
        """
        The forward button pressed again ends the input like '#'; the
        inter-digit timeout does too, and with no digits nothing is set.
        """
        phones = Phones()
        phones.b.send(m.Stimulus(Stimulus.FORWARD_ALL, 1))
        dial(phones.b, "2003")
        phones.b.received()
        self.assertEqual(phones.b.ask(m.Stimulus(Stimulus.FORWARD_ALL, 1))[0],
                         m.ForwardStat(1, 1, 1, "2003", 0, "", 0, ""))
        self.assertEqual(phones.router.engine.forwards.perDn, {"2002": "2003"})
        phones.c.send(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0))
        phones.c.received()
        phones.router.clock.advance(phones.router.engine.interdigit)
        self.assertEqual(phones.c.received(), [
            callState(CallState.ON_HOOK, 2), m.SelectSoftKeys(0, 0, SoftKeySet.ON_HOOK, ALL_KEYS),
            m.SetSpeakerMode(SpeakerMode.OFF)])
        self.assertEqual(phones.router.engine.forwards.perDn, {"2002": "2003"})
        phones.assertAllIdle(self)

    def test_notDuringCall(self) -> None:
        """
        CFwdAll while the phone has a call is "Key Is Not Active".
        """
        phones = Phones()
        phones.a.send(m.OffHook())
        phones.a.received()
        self.assertEqual(phones.a.ask(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0)),
                         [m.DisplayNotify(5, m.LABEL_KEY_IS_NOT_ACTIVE)])
        phones.a.send(m.OnHook())
        phones.assertAllIdle(self)

    def test_unregisterDuringInput(self) -> None:
        """
        A phone that disappears while entering a number leaves no timer and
        no input, and the adapter forgets its endpoint.
        """
        phones = Phones()
        control = phones.router.control
        phones.b.send(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0))
        endpoint = control.endpointOf(phones.b.station.ephone)
        self.assertTrue(control.forwardKeys.active(endpoint))
        phones.b.transport.loseConnection()
        phones.b.protocol.connectionLost(None)
        self.assertFalse(control.forwardKeys.active(endpoint))
        self.assertTrue(endpoint.gone)
        forgotten = weakref.ref(endpoint)
        del endpoint
        gc.collect()
        self.assertIsNone(forgotten())
        self.assertFalse([c for c in phones.router.clock.getDelayedCalls() if "timedOut" not in repr(c.func)])

    def test_unregisterMessageDuringInput(self) -> None:
        """
        A phone that unregisters while entering a number forwards nothing:
        the digits it had entered are dropped with the input, and calls to
        its number still ring it once it registers again.
        """
        phones = Phones()
        phones.b.send(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0))
        dial(phones.b, "2003")
        phones.b.received()
        phones.b.send(m.Unregister())
        phones.router.clock.advance(30)
        self.assertEqual(phones.router.engine.forwards.perDn, {})
        phones.b.register("SEP" + MAC_B, protocolVersion=11)
        phones.b.received()
        phones.aCallsBob()
        self.assertEqual(types(phones.b.received())[0], "CallState")
        self.assertEqual(phones.c.received(), [])


class ForwardStatTests(SynchronousTestCase):
    """
    ForwardStatReq, which a phone sends for each line while it registers
    (sccp.md 4.1 step 9), answered with the line's forward-all.
    """

    def test_configuredForwardAll(self) -> None:
        """
        With C{call-forward all 2003} configured, Bob's line 1 is reported
        forwarded to 2003 as soon as he asks (his phone shows "Forwarded to
        2003"); Carol's own number is not a target for her line; a line the
        phone does not have is not forwarded.
        """
        phones = Phones(callConfig(callForward=CallForward(all="2003")))
        self.assertEqual(phones.b.ask(m.ForwardStatReq(1)), [m.ForwardStat(1, 1, 1, "2003", 0, "", 0, "")])
        self.assertEqual(phones.c.ask(m.ForwardStatReq(1)), [m.ForwardStat(0, 1, 0, "", 0, "", 0, "")])
        self.assertEqual(phones.b.ask(m.ForwardStatReq(2)), [m.ForwardStat(0, 2, 0, "", 0, "", 0, "")])
        phones.assertAllIdle(self)

    def test_softKeyForwardKeptOverReregistration(self) -> None:
        """
        A forward-all set with CFwdAll is reported to the phone when it
        registers again; without forwarding the line is reported idle.
        """
        phones = Phones()
        self.assertEqual(phones.b.ask(m.ForwardStatReq(1)), [m.ForwardStat(0, 1, 0, "", 0, "", 0, "")])
        phones.b.send(m.SoftKeyEvent(SoftKeyEvent.CFWD_ALL, 1, 0))
        dial(phones.b, "2001#")
        phones.b.transport.loseConnection()
        phones.b.protocol.connectionLost(None)
        again = phones.router.phone(MAC_B)
        self.assertEqual(again.ask(m.ForwardStatReq(1)), [m.ForwardStat(1, 1, 1, "2001", 0, "", 0, "")])
