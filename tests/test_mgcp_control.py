"""
Tests for L{srst.mgcp.control.PortControl}: which of MGCP and local call
control owns each voice port through fallback and switchback (a fake
gateway, the real local endpoints, the call engine on a L{task.Clock}).
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from srst.debug import DebugSwitches
from srst.ports.config import DialPeer, VoicePortConfig
from srst.mgcp.control import PortControl
from srst.mgcp.fallback import IFallbackTarget
from srst.ports.callendpoint import VoicePortEndpoint
from srst.ports.directory import PortDirectory
from srst.ports.simulated import SimulatedBackend
from srst.ports.voiceport import newVoicePort
from srst.sccp import messages as m
from srst.sccp.constants import CallState
from tests.callhelpers import MAC_A, PORT_DEBUG_LOG, CallRouter, dial
from tests.test_ports_callendpoint import states


class FakeEndpoint:
    """What L{PortControl} sees of one gateway endpoint."""

    def __init__(self, port: Any) -> None:
        self.port = port
        self.controlled = True
        self.busy = False
        self.whenIdle: Callable[[str], Any] | None = None


class FakeGateway:
    """A gateway whose endpoints' MGCP calls the test switches on and off."""

    def __init__(self, ports: list[Any]) -> None:
        self.endpoints = {port.name: FakeEndpoint(port) for port in ports}
        self.sent: list[tuple[Any, ...]] = []

    def controlled(self, name: str) -> bool:
        return self.endpoints[name].controlled

    def relinquish(self, name: str, whenIdle: Callable[[str], Any]) -> None:
        endpoint = self.endpoints[name]
        endpoint.controlled = False
        if endpoint.busy:
            endpoint.whenIdle = whenIdle
        else:
            whenIdle(name)

    def callEnded(self, name: str) -> None:
        endpoint = self.endpoints[name]
        endpoint.busy = False
        whenIdle, endpoint.whenIdle = endpoint.whenIdle, None
        if whenIdle is not None:
            whenIdle(name)

    def reclaim(self, name: str) -> None:
        self.endpoints[name].controlled = True

    def isIdle(self, name: str) -> bool:
        return not self.endpoints[name].busy

    def sendKeepalive(self) -> Any:
        self.sent.append(("keepalive",))
        return succeed(None)

    def sendRestart(self, method: str, portNames: Any = None) -> Any:
        self.sent.append(("restart", method, tuple(portNames or ())))
        return succeed(None)


class FakeMonitor:
    """Records the ports reported idle; none waits for switchback."""

    def __init__(self) -> None:
        self.idle: list[str] = []
        self.pendingPorts: set[str] = set()

    def portIdle(self, name: str) -> None:
        self.idle.append(name)


class Setup:
    """
    Phone A (2001), FXS ports 1/0/0 (81234) and 1/0/1 (81235); the fake
    gateway serves C{mgcp} of them (both by default: both bound by
    C{application mgcpapp} dial-peers).
    """

    def __init__(self, mgcp: tuple[str, ...] = ("1/0/0", "1/0/1")) -> None:
        self.router = CallRouter()
        self.engine = self.router.engine
        self.ports = []
        self.local = {}
        peers = []
        for index, name in enumerate(("1/0/0", "1/0/1")):
            config = VoicePortConfig(name)
            port = newVoicePort(config, SimulatedBackend(name, config.signal), debug=DebugSwitches())
            self.ports.append(port)
            self.local[name] = VoicePortEndpoint(self.engine, port, number="8123%d" % (4 + index,),
                                                 debugLog=PORT_DEBUG_LOG)
            peers.append(DialPeer(81234 + index, destinationPattern="8123%d" % (4 + index,), port=name))
        self.engine.addDirectory(PortDirectory(peers, self.local))
        self.gateway = FakeGateway([port for port in self.ports if port.name in mgcp])
        self.control = PortControl(self.gateway, self.local)
        self.monitor = FakeMonitor()
        self.control.monitor = self.monitor
        self.a = self.router.phone(MAC_A)


class PortControlTests(SynchronousTestCase):
    """Ports move between MGCP and local call control."""

    def test_interface(self) -> None:
        """PortControl is an IFallbackTarget."""
        self.assertTrue(verifyObject(IFallbackTarget, Setup().control))

    def test_mgcpOwnsAtFirst(self) -> None:
        """Before fallback the local endpoints are inactive: the line is ignored and calls are refused."""
        setup = Setup()
        self.assertEqual([setup.control.owner(n) for n in ("1/0/0", "1/0/1")], ["MGCP", "MGCP"])
        setup.ports[0].backend.offHook()
        self.assertEqual(setup.engine.legsOf(setup.local["1/0/0"]), [])
        setup.ports[0].backend.onHook()
        setup.a.send(m.OffHook())
        dial(setup.a, "81234")
        self.assertNotIn(CallState.RING_OUT, states(setup.a.received()))

    def test_portWithoutMgcpappStaysLocal(self) -> None:
        """
        A port the gateway does not serve (no C{application mgcpapp}
        dial-peer) is local from the start: a phone calls it while the
        other port is under MGCP, and neither fallback nor its calls ending
        involve it in the fallback transitions.
        """
        setup = Setup(mgcp=("1/0/0",))
        self.assertEqual([setup.control.owner(n) for n in ("1/0/0", "1/0/1")], ["MGCP", "LOCAL"])
        self.assertEqual((setup.local["1/0/0"].active, setup.local["1/0/1"].active), (False, True))
        self.assertEqual(setup.control.portNames(), ["1/0/0"])
        setup.a.send(m.OffHook())
        dial(setup.a, "81235")
        self.assertIn(CallState.RING_OUT, states(setup.a.received()))
        setup.a.send(m.OnHook())
        self.assertEqual(setup.engine.legsOf(setup.local["1/0/1"]), [])
        setup.control.enterFallback()
        self.assertEqual([setup.control.owner(n) for n in ("1/0/0", "1/0/1")], ["LOCAL", "LOCAL"])
        self.assertEqual(setup.monitor.idle, [], "no port reported to the fallback monitor")

    def test_fallbackHandsIdlePortsOver(self) -> None:
        """Fallback makes every idle port local at once: the phone can call it."""
        setup = Setup()
        setup.control.enterFallback()
        self.assertEqual(setup.control.owner("1/0/0"), "LOCAL")
        self.assertTrue(setup.local["1/0/0"].active)
        setup.a.send(m.OffHook())
        dial(setup.a, "81234")
        self.assertIn(CallState.RING_OUT, states(setup.a.received()))

    def test_connectedMgcpCallKept(self) -> None:
        """A port with a connected MGCP call turns local only when that call ends."""
        setup = Setup()
        setup.gateway.endpoints["1/0/1"].busy = True
        setup.control.enterFallback()
        self.assertFalse(setup.local["1/0/1"].active)
        self.assertTrue(setup.local["1/0/0"].active)
        setup.gateway.callEnded("1/0/1")
        self.assertTrue(setup.local["1/0/1"].active)

    def test_switchbackOfIdlePort(self) -> None:
        """Returning an idle port deactivates the local endpoint and reclaims it for MGCP."""
        setup = Setup()
        setup.control.enterFallback()
        self.assertTrue(setup.control.isPortIdle("1/0/0"))
        setup.control.returnPort("1/0/0")
        self.assertEqual(setup.control.owner("1/0/0"), "MGCP")
        self.assertFalse(setup.local["1/0/0"].active)

    def test_switchbackWaitsForLocalCall(self) -> None:
        """
        A port returned while its local call is up keeps the call; it goes
        back to MGCP when the line hangs up.
        """
        setup = Setup()
        setup.control.enterFallback()
        port = setup.ports[0]
        port.backend.offHook()
        self.assertFalse(setup.control.isPortIdle("1/0/0"))
        setup.control.returnPort("1/0/0")
        self.assertEqual(setup.control.owner("1/0/0"), "LOCAL")
        self.assertTrue(setup.local["1/0/0"].active)
        port.backend.onHook()
        self.assertEqual(setup.control.owner("1/0/0"), "MGCP")
        self.assertFalse(setup.local["1/0/0"].active)
        self.assertEqual(setup.monitor.idle, [])

    def test_idleReported(self) -> None:
        """A local call ending on a port is reported to the monitor (graceful switchback)."""
        setup = Setup()
        setup.control.enterFallback()
        port = setup.ports[1]
        port.backend.offHook()
        port.backend.onHook()
        self.assertEqual(setup.monitor.idle, ["1/0/1"])

    def test_keptCallEndsWhilePending(self) -> None:
        """
        A port waiting for switchback whose MGCP call, kept through
        fallback, ends is reported idle to the monitor at once; one not
        waiting is not.
        """
        setup = Setup()
        setup.gateway.endpoints["1/0/0"].busy = True
        setup.gateway.endpoints["1/0/1"].busy = True
        setup.control.enterFallback()
        setup.monitor.pendingPorts.add("1/0/1")
        setup.gateway.callEnded("1/0/0")
        setup.gateway.callEnded("1/0/1")
        self.assertEqual(setup.monitor.idle, ["1/0/1"])

    def test_restartAndKeepalive(self) -> None:
        """RSIP and keepalives go through the gateway, with the ports named."""
        setup = Setup()
        setup.control.sendKeepalive()
        setup.control.sendRestart("restart", ["1/0/0"])
        self.assertEqual(setup.gateway.sent, [("keepalive",), ("restart", "restart", ("1/0/0",))])
        self.assertEqual(list(setup.control.portNames()), ["1/0/0", "1/0/1"])
