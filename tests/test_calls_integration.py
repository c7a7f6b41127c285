"""
Integration tests for the call engine: the real router on 127.0.0.1 with
simulated phones (srst-phone's API) registered over mutual TLS with LSCs
from a CA configured as a phone trustpoint, and over plain TCP, calling
each other, through the call adapter the service makes the listeners'
station listener.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import TestCase

from srst.media.srtp import SrtpReceiver, SrtpSender
from srst.sccp import messages as m
from srst.sccp.constants import CallSecurityStatus, CallState
from srst.sccp.srtpkeys import fromKeyInfo
from tests.callhelpers import autoAck, isCallState, rings, waitFor
from tests.phonehelpers import registeredPhone, routerYamlWithCapf
from tests.routerhelpers import bounded, startRouter, stateDirectory
from tests.test_sccp_integration import CMF

RTP_PORTS = {"0000000000D1": 24000, "0000000000D2": 24002}


class CallIntegrationTests(TestCase):
    """
    Two phones call each other through the router over real sockets.
    """

    timeout = 60

    @bounded
    def startRouter(self) -> Any:
        service = yield startRouter(self, routerYamlWithCapf(stateDirectory(self), CMF.format(maxEphones=10)))
        self.engine = service.callEngine
        self.control = service.callControl
        self.service = service
        self.caCertificate = service.certificateServer.caCertificate
        return service

    @bounded
    def phone(self, mac: str, tls: bool = True) -> Any:
        """@return: a registered phone that acks OpenReceiveChannel, and its DN."""
        phone, dn = yield registeredPhone(self, self.service, mac, tls, media=False)
        autoAck(phone, RTP_PORTS[mac])
        return phone, dn

    @bounded
    def call(self, tlsB: bool) -> Any:
        """Alice (TLS) calls Bob; both end up with media started."""
        yield self.startRouter()
        a, dnA = yield self.phone("0000000000D1")
        b, dnB = yield self.phone("0000000000D2", tls=tlsB)
        yield rings(a, b, dnB)
        smtA = waitFor(a, lambda msg: isinstance(msg, m.StartMediaTransmission))
        smtB = waitFor(b, lambda msg: isinstance(msg, m.StartMediaTransmission))
        b.offHook()
        smtA = yield smtA
        smtB = yield smtB
        return a, b, smtA, smtB

    @bounded
    def test_secureCall(self) -> None:
        """
        Two TLS phones get OpenReceiveChannel and StartMediaTransmission
        with matching key pairs (A's tx key is B's rx key and the other way
        round), each SMT points at the other phone's RTP port, CallInfo
        shows encrypted; after A hangs up both phones are on hook and every
        channel is idle.
        """
        a, b, smtA, smtB = yield self.call(tlsB=True)
        orcA = a.receivedOfType(m.OpenReceiveChannel)[-1]
        orcB = b.receivedOfType(m.OpenReceiveChannel)[-1]
        self.assertEqual((smtA.remotePortNumber, smtB.remotePortNumber), (24002, 24000))
        self.assertEqual(smtA.txKey, orcB.rxKey)
        self.assertEqual(smtB.txKey, orcA.rxKey)
        self.assertNotEqual(smtA.txKey.key, smtB.txKey.key)
        self.assertEqual(smtA.txKey.algorithmId, 1)
        rtp = bytes.fromhex("80000001000000a0cafebabe") + b"\xd5" * 160
        protected = SrtpSender(fromKeyInfo(smtA.txKey)).protect(rtp)
        self.assertEqual(SrtpReceiver(fromKeyInfo(orcB.rxKey)).unprotect(protected), rtp)
        self.assertEqual(a.receivedOfType(m.CallInfo)[-1].callSecurityStatus, CallSecurityStatus.ENCRYPTED)
        self.assertEqual(b.receivedOfType(m.CallInfo)[-1].callSecurityStatus, CallSecurityStatus.ENCRYPTED)

        onHookA, onHookB = waitFor(a, isCallState(CallState.ON_HOOK)), waitFor(b, isCallState(CallState.ON_HOOK))
        a.onHook()
        yield onHookA
        yield onHookB
        self.assertEqual(self.engine.calls(), [])
        for ephone in self.service.registry.registeredEphones():
            self.assertEqual(ephone.lines[0].channels, ["IDLE"])
            self.assertEqual((ephone.offhook, ephone.mediaActive), (0, 0))

    @bounded
    def test_secureToClearTextCall(self) -> None:
        """
        A TLS phone calling a clear-text phone: no keys in any media
        message, CallInfo not authenticated; when the clear-text phone
        disconnects the TLS phone is put on hook.
        """
        a, b, smtA, smtB = yield self.call(tlsB=False)
        orcA = a.receivedOfType(m.OpenReceiveChannel)[-1]
        orcB = b.receivedOfType(m.OpenReceiveChannel)[-1]
        self.assertEqual({smtA.txKey, smtB.txKey, orcA.rxKey, orcB.rxKey}, {m.NO_KEY})
        self.assertEqual(a.receivedOfType(m.CallInfo)[-1].callSecurityStatus,
                         CallSecurityStatus.NOT_AUTHENTICATED)
        onHookA = waitFor(a, isCallState(CallState.ON_HOOK))
        yield b.stop()
        yield onHookA
        self.assertEqual(self.engine.calls(), [])
