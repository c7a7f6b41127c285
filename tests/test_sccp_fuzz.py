"""
Bounded, seeded fuzz of SCCP: the codec with mutated frames, and the real
router's clear-text port over loopback with mutated registrations and call
messages while two phones are in a call.  The longer run is
C{benchmarks/soak/fuzz.py}.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

import attrs
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.sccp import messages as m
from srst.sccp.constants import CallState, RingMode
from srst.sccp.factory import REGISTER_NAMESPACE
from srst.tools._phonetypes import PhoneState
from tests.callhelpers import autoAck, isCallState, waitFor
from tests.fuzzhelpers import TroubleObserver, mutate
from tests.phonehelpers import registeredPhone, routerYamlWithCapf
from tests.routerhelpers import bounded, startRouter, stateDirectory, within
from tests.test_sccp_integration import CMF
from tests.test_sccp_messages import VERSIONS
from tests.test_sccp_properties import sampleMessages, widest

SEED = 17
"""The fuzz seed: the same inputs on every run."""

CODEC_INPUTS = 4000
PORT_CONNECTIONS = 120


def seedFrames(version: int = 11) -> list[bytes]:
    """Valid frames of a registration and a secure call, both directions."""
    return [m.encodeMessage(msg, protocolVersion=version) for msg in sampleMessages()]


class CodecFuzzTests(SynchronousTestCase):
    """
    Mutated frames given to the codec.
    """

    def test_mutatedFrames(self) -> None:
        """
        Every mutation of a valid frame (at every protocol version) either
        raises L{m.DecodeError} with its reason, or decodes to a message
        that is re-sent byte for byte and whose fresh encoding decodes
        equal; nothing else is raised.
        """
        rng = random.Random(SEED)
        frames = {version: seedFrames(version) for version in VERSIONS}
        decoded = errors = 0
        for _ in range(CODEC_INPUTS):
            version = rng.choice(VERSIONS)
            data = mutate(rng, rng.choice(frames[version]))
            try:
                msg = m.decodeMessage(data, protocolVersion=version)
            except m.DecodeError as e:
                self.assertTrue(str(e).startswith("cannot decode SCCP "), str(e))
                errors += 1
                continue
            decoded += 1
            self.assertEqual(m.encodeMessage(msg, protocolVersion=version), data)
            wide = widest(version)
            fresh = m.encodeMessage(attrs.evolve(msg), protocolVersion=wide)
            self.assertEqual(m.decodeMessage(fresh, protocolVersion=wide), msg)
        self.assertEqual(decoded + errors, CODEC_INPUTS)
        self.assertGreater(min(decoded, errors), CODEC_INPUTS // 10)


class _Fuzzer(Protocol):
    """Send the bytes, then close."""

    def connectionMade(self) -> None:
        self.factory.connectedFrom(self.transport.getHost().port)
        self.transport.write(self.factory.data)
        self.transport.loseConnection()


class PlainPortFuzzTests(TestCase):
    """
    Mutated input on the clear-text SCCP port while two phones talk.
    """

    timeout = 60

    @bounded
    def setUpCall(self) -> Any:
        """Start the router; Alice calls Bob on the clear-text port and Bob answers."""
        self.service = yield startRouter(self, routerYamlWithCapf(stateDirectory(self), CMF.format(maxEphones=10)))
        self.a, _ = yield registeredPhone(self, self.service, "0000000000D1", tls=False, media=False)
        self.b, dnB = yield registeredPhone(self, self.service, "0000000000D2", tls=False, media=False)
        autoAck(self.a, 24000)
        autoAck(self.b, 24002)
        ringing = waitFor(self.b, lambda msg: isinstance(msg, m.SetRinger) and msg.ringMode == RingMode.INSIDE,
                          what="Bob ringing")
        self.a.offHook()
        self.a.pressKeys(dnB)
        yield ringing
        connected = [waitFor(p, isCallState(CallState.CONNECTED), what="CONNECTED") for p in (self.a, self.b)]
        self.b.offHook()
        for d in connected:
            yield d

    @bounded
    def test_fuzzPlainPort(self) -> Any:
        """
        120 connections from 127.0.0.1 each send mutated frames (half of
        them after a valid Register of a new phone); each one is closed by
        the router, which counts the bad input; meanwhile the call between
        Alice and Bob stays connected, both stay registered and have their
        keepalives answered, and nothing is logged as a failure, as
        unhandled or with a traceback.
        """
        yield self.setUpCall()
        rng = random.Random(SEED)
        frames = seedFrames()
        register = m.Register(deviceName="SEP0000000000F0", instance=1, stationIpAddr=ipaddress.IPv4Address("127.0.0.1"),
                              deviceType=7, protocolVersion=11, phoneFeatures=0)
        closed: dict[int, Deferred[None]] = {}

        def onDebug(event: dict) -> None:
            if "closed" in event.get("log_format", "") and event.get("port") in closed:
                d = closed.pop(event["port"])
                d.callback(None)

        self.service.debug.addStream(onDebug, [REGISTER_NAMESPACE])
        self.addCleanup(self.service.debug.removeStream, onDebug)
        sccpPort = self.service.ports()["sccp"]
        calls = self.service.callEngine.calls()
        self.assertEqual(len(calls), 1)
        with TroubleObserver() as trouble:
            for index in range(PORT_CONNECTIONS):
                data = b"".join(mutate(rng, rng.choice(frames)) for _ in range(rng.randrange(1, 9)))
                if index % 2:
                    mac = "SEP%012X" % (0xF00000 + index,)
                    data = m.encodeMessage(attrs.evolve(register, deviceName=mac), protocolVersion=11) + data
                factory = ClientFactory()
                factory.protocol = _Fuzzer
                factory.data = data
                done: Deferred[Any] = Deferred()
                factory.connectedFrom = lambda port, done=done: closed.__setitem__(port, done)
                reactor.connectTCP("127.0.0.1", sccpPort, factory)
                yield within(done, f"the router to close fuzz connection {index}", timeout=5)
            for phone in (self.a, self.b):
                ack = waitFor(phone, lambda msg: isinstance(msg, m.KeepAliveAck), since=len(phone.received),
                              what="KeepAliveAck")
                phone.sendMessage(m.KeepAlive())
                yield ack
        self.assertEqual(trouble.trouble, [])
        self.assertGreater(trouble.events, PORT_CONNECTIONS)
        self.assertEqual(self.service.callEngine.calls(), calls)
        for mac in ("0000000000D1", "0000000000D2"):
            ephone = self.service.registry.byMac(mac)
            self.assertIsNotNone(ephone, mac)
            self.assertEqual(ephone.lines[0].channels, ["CONNECTED"], mac)
        self.assertEqual((self.a.state, self.b.state), (PhoneState.REGISTERED, PhoneState.REGISTERED))
        self.assertTrue(self.service.skinnyFactories[0].inputErrors, self.service.skinnyFactories[0].statistics())
