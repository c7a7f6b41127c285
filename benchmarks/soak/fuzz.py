"""
Fuzz soak: mutated SCCP on the clear-text port and mutated MGCP on the
gateway port of a real router, for a bounded time, while two phones are in
a call and the call agent controls the voice ports.

    python benchmarks/soak/fuzz.py --seconds 60 [--seed 1]

The router runs as a child (C{_router.Router}).  Two clear-text phones
register and Alice calls Bob; srst-ccm's call agent registers the gateway.
Then, until the time is up: four workers open connection after connection
to the SCCP port, each sending mutated frames of a registration and a call
(half of them after a valid Register of a new phone); and every 20 ms 20
mutated MGCP commands and responses go to the gateway from the call
agent's socket.  Once a second both phones send KeepAlive and must be
answered.  Prints: inputs tried (SCCP frames, MGCP datagrams), tracebacks
in the router's log (must be 0), registrations lost (0), calls dropped
(0), keepalives unanswered (0), router RSS at start and end.  Exits 1 if
any of those must-be-zero figures is not.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _router import Router  # noqa: E402  (also puts the checkout first on sys.path)

from twisted.internet import task  # noqa: E402
from twisted.internet.defer import Deferred, ensureDeferred  # noqa: E402
from twisted.internet.protocol import ClientFactory, Protocol  # noqa: E402

from srst.debug import DebugSwitches  # noqa: E402
from srst.sccp import messages as m  # noqa: E402
from srst.sccp.constants import CallState, RingMode  # noqa: E402
from srst.tools._callagent import CallAgent, parseLineSpec  # noqa: E402
from srst.tools._phoneclient import SimulatedPhone  # noqa: E402
from srst.tools._phonetypes import PhoneConfig, PhoneState  # noqa: E402
from srst.tools._phonewire import connectPhone  # noqa: E402
from tests.callhelpers import autoAck, isCallState, waitFor  # noqa: E402
from tests.fuzzhelpers import mutate  # noqa: E402
from tests.test_mgcp_fuzz import seedMessages  # noqa: E402
from tests.test_sccp_fuzz import seedFrames  # noqa: E402


class _Fuzzer(Protocol):
    def connectionMade(self) -> None:
        self.transport.write(self.factory.data)
        self.transport.loseConnection()

    def connectionLost(self, reason: object) -> None:
        self.factory.done.callback(None)


async def sccpWorker(reactor, rng: random.Random, port: int, deadline: float, counts: dict, worker: int) -> None:
    """Connection after connection of mutated frames until C{deadline}."""
    frames = seedFrames()
    n = 0
    while time.monotonic() < deadline:
        n += 1
        pieces = [mutate(rng, rng.choice(frames)) for _ in range(rng.randrange(1, 9))]
        data = b"".join(pieces)
        if n % 2:
            mac = "SEP%04X%08X" % (0xF000 + worker, n % 50)
            register = m.Register(deviceName=mac, instance=1, stationIpAddr=ipaddress.IPv4Address("127.0.0.1"),
                                  deviceType=7, protocolVersion=11, phoneFeatures=0)
            data = m.encodeMessage(register, protocolVersion=11) + data
        factory = ClientFactory()
        factory.protocol = _Fuzzer
        factory.data = data
        factory.done = Deferred()
        factory.clientConnectionFailed = lambda connector, reason, d=factory.done: d.callback(None)
        reactor.connectTCP("127.0.0.1", port, factory)
        await factory.done
        counts["sccpConnections"] += 1
        counts["sccpFrames"] += len(pieces)


async def run(reactor, seconds: float, seed: int) -> int:
    agent = CallAgent(reactor, "branch-router", [parseLineSpec("81234=1/0/0"), parseLineSpec("81236=1/0/1")],
                      listenAddress=("127.0.0.1", 0), debug=DebugSwitches())
    agentPort = agent.start()
    router = Router(agentPort=agent.listenAddress[1])
    try:
        await agent.whenRegistered()
        phones = []
        for mac, rtpPort in (("0000000000D1", 24000), ("0000000000D2", 24002)):
            phone = SimulatedPhone(PhoneConfig(mac=mac), clock=reactor)
            connectPhone(reactor, phone, "127.0.0.1", router.ports["sccp"])
            await phone.whenRegistered()
            autoAck(phone, rtpPort)
            phones.append(phone)
        a, b = phones
        ringing = waitFor(b, lambda msg: isinstance(msg, m.SetRinger) and msg.ringMode == RingMode.INSIDE)
        a.offHook()
        a.pressKeys(b.settings.lineStats[1].lineDirNumber)
        await ringing
        connected = [waitFor(p, isCallState(CallState.CONNECTED)) for p in phones]
        b.offHook()
        for d in connected:
            await d
        marks = [len(p.received) for p in phones]
        rssStart = router.rssKiB()
        rng = random.Random(seed)
        counts = {"sccpConnections": 0, "sccpFrames": 0, "mgcpDatagrams": 0, "keepalivesMissed": 0}
        deadline = time.monotonic() + seconds
        mgcpSeeds = seedMessages("F00D", "1")
        gateway = ("127.0.0.1", router.ports["mgcp"])

        def mgcpBurst() -> None:
            for _ in range(20):
                agentPort.write(mutate(rng, rng.choice(mgcpSeeds)), gateway)
                counts["mgcpDatagrams"] += 1

        mgcpLoop = task.LoopingCall(mgcpBurst)
        mgcpLoop.clock = reactor
        mgcpLoop.start(0.02)

        async def keepalives() -> None:
            while time.monotonic() < deadline:
                for phone in phones:
                    ack = waitFor(phone, lambda msg: isinstance(msg, m.KeepAliveAck), since=len(phone.received),
                                  timeout=5.0)
                    phone.sendMessage(m.KeepAlive())
                    try:
                        await ack
                    except AssertionError:
                        counts["keepalivesMissed"] += 1
                await task.deferLater(reactor, 1.0, lambda: None)

        workers = [ensureDeferred(sccpWorker(reactor, random.Random(seed * 100 + i), router.ports["sccp"],
                                             deadline, counts, i)) for i in range(4)]
        await ensureDeferred(keepalives())
        for worker in workers:
            await worker
        mgcpLoop.stop()
        await task.deferLater(reactor, 1.0, lambda: None)  # let the last datagrams be handled
        lost = sum(p.state is not PhoneState.REGISTERED for p in phones)
        dropped = sum(any(isinstance(msg, m.CallState) and msg.callState == CallState.ON_HOOK
                          for msg in p.received[mark:]) for p, mark in zip(phones, marks))
        rssEnd = router.rssKiB()
        tracebacks = router.tracebacks()
        print(f"fuzz: {seconds:.0f} s, seed {seed}: inputs tried: {counts['sccpFrames']} SCCP frames on "
              f"{counts['sccpConnections']} connections, {counts['mgcpDatagrams']} MGCP datagrams; "
              f"tracebacks {len(tracebacks)}, registrations lost {lost}, calls dropped {dropped}, keepalives "
              f"unanswered {counts['keepalivesMissed']}; router RSS {rssStart / 1024:.1f} -> {rssEnd / 1024:.1f} MiB")
        for line in tracebacks[:5]:
            print("  " + line)
        for phone in phones:
            await phone.stop()
        return 1 if tracebacks or lost or dropped or counts["keepalivesMissed"] else 0
    finally:
        await agent.stop()
        router.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    async def body(reactor):
        raise SystemExit(await run(reactor, args.seconds, args.seed))

    task.react(lambda reactor: ensureDeferred(body(reactor)))  # exits with run's status
    return 1


if __name__ == "__main__":
    sys.exit(main())
