"""
Bounded, seeded fuzz of the MGCP gateway port: mutated commands and
responses over real UDP on 127.0.0.1 while two FXS ports are in a call set
up by the call agent.  The longer run is C{benchmarks/soak/fuzz.py}.
"""

from __future__ import annotations

import random
from typing import Any

from twisted.trial.unittest import TestCase

from srst.mgcp.messages import Command, MgcpDecodeError, Response, decodeMessage, encodeMessage, splitDatagram
from srst.ports.tones import CallProgressTone
from srst.ports.voiceport import PortStatus
from tests.fuzzhelpers import TroubleObserver, mutate
from tests.routerhelpers import bounded
from tests import test_mgcp_gateway_integration as integration

SEED = 2427
"""The fuzz seed: the same inputs on every run."""

BATCHES = 15
BATCH = 100

CALL_ENDING = {"CRCX", "MDCX", "DLCX"}
"""Verbs that may legitimately change the call under test: never sent well-formed to its endpoints."""


def seedMessages(callId: str, connectionId: str) -> list[bytes]:
    """
    Valid messages a call agent could send: audits of the ports in the
    call (knowing its call and connection ids), commands for a port that
    does not exist, and responses.
    """
    real = ["aaln/S1/SU0/0@" + integration.DOMAIN, "aaln/S1/SU0/1@" + integration.DOMAIN]
    other = "aaln/S1/SU0/7@" + integration.DOMAIN
    messages: list[Any] = [
        Command("AUEP", 901, real[0], "MGCP 0.1", parameters=[("F", "A,R,D,S,X,N,I,T,O,ES")]),
        Command("AUCX", 902, real[1], "MGCP 0.1", parameters=[("I", connectionId), ("F", "C,N,L,M,LC,P")]),
        Command("RQNT", 903, real[0], "MGCP 0.1", parameters=[("X", "77"), ("R", "L/hu(N),D/[0-9#*](N)")]),
        Command("CRCX", 904, other, "MGCP 0.1", parameters=[("C", callId), ("M", "sendrecv"), ("L", "p:20, a:PCMU")]),
        Command("MDCX", 905, other, "MGCP 0.1", parameters=[("C", callId), ("I", connectionId), ("M", "recvonly")]),
        Command("DLCX", 906, other, "MGCP 0.1", parameters=[("C", callId)]),
        Command("EPCF", 907, other, "MGCP 0.1", parameters=[("B", "e:mu")]),
        Response(200, 1, "OK"), Response(510, 2, "bad"),
    ]
    return [encodeMessage(message) for message in messages]


def endsTheCall(datagram: bytes) -> bool:
    """
    Whether a (mutated) datagram holds a well-formed CRCX, MDCX or DLCX
    that is not for the made-up port: the gateway would rightly change the
    call under test, which the fuzz must leave up.
    """
    try:
        parts = splitDatagram(datagram)
    except MgcpDecodeError:
        return False
    for part in parts:
        try:
            message = decodeMessage(part)
        except MgcpDecodeError:
            continue
        if (isinstance(message, Command) and message.verb.upper() in CALL_ENDING
                and not message.endpoint.lower().startswith("aaln/s1/su0/7@")):
            return True
    return False


class GatewayPortFuzzTests(TestCase):
    """
    Mutated datagrams to the gateway port during a call.
    """

    timeout = 30

    setUp = integration.RealUdpCallTests.setUp
    tearDown = integration.RealUdpCallTests.tearDown
    newLeg = integration.RealUdpCallTests.newLeg
    send = integration.RealUdpCallTests.send

    @bounded
    def test_fuzzGatewayPort(self) -> Any:
        """
        1500 mutated datagrams (of audits, RQNT, commands for a port that
        does not exist, and responses), sent from the call agent's socket
        in batches each followed by an AUEP whose answer shows the batch
        was handled: the gateway counts the malformed ones, the call
        between 1/0/0 and 1/0/1 keeps both connections and carries audio
        afterwards, and nothing is logged as a failure, as unhandled or
        with a traceback.
        """
        restarted = self.callAgent.whenReceived(lambda received: any(c.verb == "RSIP" for c in received))
        self.gateway.start()
        yield restarted
        notified = self.callAgent.whenReceived(lambda received: sum(c.verb == "NTFY" for c in received) == 2)
        self.lines["1/0/0"].offHook()
        self.lines["1/0/1"].offHook()
        yield notified
        first = yield self.send("CRCX", "1/0/0", [("C", "F00D"), ("M", "sendrecv")])
        second = yield self.send("CRCX", "1/0/1", [("C", "F00D"), ("M", "sendrecv")], sdp=first.sdp)
        modified = yield self.send("MDCX", "1/0/0", [("C", "F00D"), ("I", first.raw("I")), ("M", "sendrecv")],
                                   sdp=second.sdp)
        self.assertEqual((first.code, second.code, modified.code), (200, 200, 200))
        connections = {name: self.gateway.connectionsOf(name) for name in self.ports}
        self.assertEqual([len(c) for c in connections.values()], [1, 1])

        rng = random.Random(SEED)
        seeds = seedMessages("F00D", first.raw("I"))
        sent = skipped = 0
        before = self.gateway.counters
        with TroubleObserver() as trouble:
            for _ in range(BATCHES):
                for _ in range(BATCH):
                    datagram = mutate(rng, rng.choice(seeds))
                    if endsTheCall(datagram):
                        skipped += 1
                        continue
                    self.callAgent.protocol.transport.write(datagram, self.gwAddress)
                    sent += 1
                audit = yield self.send("AUEP", "1/0/0", [])
                self.assertEqual(audit.code, 200)
            after = self.gateway.counters
        self.assertEqual(trouble.trouble, [])
        self.assertEqual(after.received - before.received, sent + BATCHES)
        self.assertGreater(after.malformed - before.malformed, sent // 4)
        self.assertLess(skipped, sent // 10)
        self.assertEqual({name: self.gateway.connectionsOf(name) for name in self.ports}, connections)
        self.assertEqual([p.status for p in self.ports.values()], [PortStatus.CONNECTED] * 2)

        listener = self.ports["1/0/1"]
        listener.dsp.startRecording()
        self.ports["1/0/0"].playTone(CallProgressTone.DIAL)
        self.mediaClock.pump([self.pump.interval] * 5)
        yield self.wire.when(lambda: any(listener.dsp.lastReceived))
        self.assertGreater(len(listener.dsp.stopRecording()), 0)
