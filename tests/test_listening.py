"""
Tests for L{srst.listening}: listeners that bind when they start, fail
start-up loudly and expose the bound port.
"""

from __future__ import annotations

import resource

from twisted.internet.address import IPv4Address
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import DatagramProtocol, Factory, Protocol
from twisted.internet.testing import MemoryReactor, RaisingMemoryReactor
from twisted.logger import Logger, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from srst.listening import ListenerError, TCPListenerService, UDPListenerService, raiseOpenFileLimit


class TCPListenerServiceTests(SynchronousTestCase):
    """
    L{TCPListenerService}.
    """

    def test_bindsOnStart(self):
        """
        Starting binds the factory on the address and port with the service's
        backlog, fires L{TCPListenerService.whenListening} and logs where it
        listens; stopping forgets the port.
        """
        memory = MemoryReactor()
        factory = Factory.forProtocol(Protocol)
        service = TCPListenerService("credentials", memory, "127.0.0.1", 2445, factory)
        waiting = service.whenListening()
        self.assertNoResult(waiting)
        self.assertIsNone(service.boundPort())
        with capturedLogs() as events:
            service.startService()
        [(port, boundFactory, backlog, interface)] = memory.tcpServers
        self.assertEqual((port, boundFactory, backlog, interface), (2445, factory, 1024, "127.0.0.1"))
        self.assertIs(self.successResultOf(waiting), service.listeningPort)
        self.assertIs(self.successResultOf(service.whenListening()), service.listeningPort)
        self.assertEqual([(e["name"], e["address"]) for e in events], [("credentials", "127.0.0.1")])
        service.stopService()
        self.assertIsNone(service.listeningPort)
        self.assertFalse(service.running)

    def test_bindFailureStopsStartUp(self):
        """
        A port that cannot be bound raises L{ListenerError} naming the
        listener, and the service is not running.
        """
        failing = RaisingMemoryReactor(listenException=CannotListenError("127.0.0.1", 2445, OSError("in use")))
        service = TCPListenerService("credentials", failing, "127.0.0.1", 2445, Factory.forProtocol(Protocol))
        error = self.assertRaises(ListenerError, service.startService)
        self.assertEqual(str(error), "cannot listen for credentials on 127.0.0.1 port 2445: in use")
        self.assertFalse(service.running)
        self.assertIsNone(service.boundPort())


class FakeUDPReactor:
    """
    Enough of an L{IReactorUDP}: records C{listenUDP} calls and answers with
    a port bound to 40000, or raises C{error} when given one.
    """

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.udpServers: list[tuple[int, DatagramProtocol, str]] = []

    def listenUDP(self, port: int, protocol: DatagramProtocol, interface: str = "", maxPacketSize: int = 8192):
        if self.error is not None:
            raise self.error
        self.udpServers.append((port, protocol, interface))
        return _FakeListeningPort(IPv4Address("UDP", interface, 40000))


class _FakeListeningPort:
    def __init__(self, host: IPv4Address) -> None:
        self.host = host
        self.stopped = False

    def getHost(self) -> IPv4Address:
        return self.host

    def stopListening(self) -> None:
        self.stopped = True


class UDPListenerServiceTests(SynchronousTestCase):
    """
    L{UDPListenerService}.
    """

    def test_bindsOnStart(self):
        """
        Starting binds the protocol on the address and port, fires
        L{UDPListenerService.whenListening} and reports the bound port;
        stopping stops listening.
        """
        fake = FakeUDPReactor()
        protocol = DatagramProtocol()
        service = UDPListenerService("mgcp", fake, "127.0.0.1", 0, protocol)
        waiting = service.whenListening()
        service.startService()
        self.assertEqual(fake.udpServers, [(0, protocol, "127.0.0.1")])
        port = self.successResultOf(waiting)
        self.assertIs(port, service.listeningPort)
        self.assertEqual(service.boundPort(), 40000)
        service.stopService()
        self.assertTrue(port.stopped)
        self.assertIsNone(service.boundPort())

    def test_bindFailureStopsStartUp(self):
        """
        A UDP port that cannot be bound raises L{ListenerError} naming the
        listener, and the service is not running.
        """
        fake = FakeUDPReactor(CannotListenError("127.0.0.1", 2427, OSError("in use")))
        service = UDPListenerService("mgcp", fake, "127.0.0.1", 2427, DatagramProtocol())
        error = self.assertRaises(ListenerError, service.startService)
        self.assertEqual(str(error), "cannot listen for mgcp on 127.0.0.1 port 2427: in use")
        self.assertFalse(service.running)


class RaiseOpenFileLimitTests(SynchronousTestCase):
    """
    L{raiseOpenFileLimit} with a fake C{getrlimit}/C{setrlimit} (the real
    one is exercised by the router started under a small limit in
    L{tests.test_sccp_fdlimits}).
    """

    def setUp(self):
        self.limits = {resource.RLIMIT_NOFILE: (256, 4096)}
        self.refuse = None

    def getrlimit(self, which):
        return self.limits[which]

    def setrlimit(self, which, limits):
        if self.refuse is not None:
            raise self.refuse
        self.limits[which] = limits

    def raiseLimit(self):
        with capturedLogs() as events:
            result = raiseOpenFileLimit(Logger(), self.getrlimit, self.setrlimit)
        return result, [formatEvent(e) for e in events]

    def test_raised(self):
        """
        The soft limit goes up to the hard limit, in one line naming both.
        """
        self.assertEqual(self.raiseLimit(),
                         (4096, ["open-file limit (RLIMIT_NOFILE) 256 -> 4096 (hard limit 4096)"]))
        self.assertEqual(self.limits[resource.RLIMIT_NOFILE], (4096, 4096))

    def test_alreadyAtHardLimit(self):
        """
        A soft limit already at the hard limit is only reported.
        """
        self.limits[resource.RLIMIT_NOFILE] = (4096, 4096)
        self.refuse = AssertionError("not called")
        self.assertEqual(self.raiseLimit(),
                         (4096, ["open-file limit (RLIMIT_NOFILE) 4096 -> 4096 (hard limit 4096)"]))

    def test_unlimited(self):
        """
        An unlimited hard limit is asked for; unlimited means no limit.
        """
        self.limits[resource.RLIMIT_NOFILE] = (1024, resource.RLIM_INFINITY)
        self.assertEqual(self.raiseLimit(),
                         (None, ["open-file limit (RLIMIT_NOFILE) 1024 -> unlimited (hard limit unlimited)"]))

    def test_refused(self):
        """
        When the system refuses, the soft limit stays, with a warning saying
        why.
        """
        self.refuse = ValueError("not allowed to raise maximum limit")
        self.limits[resource.RLIMIT_NOFILE] = (1024, resource.RLIM_INFINITY)
        self.assertEqual(self.raiseLimit(), (1024, [
            "open-file limit (RLIMIT_NOFILE) stays 1024: cannot raise it to the hard limit unlimited: not "
            "allowed to raise maximum limit"]))
