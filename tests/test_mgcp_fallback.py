"""
Tests for L{srst.mgcp.fallback}: detection of CallManager loss, MGCP
fallback, probing and every switchback mode, driven by a L{Clock}.
"""

from datetime import datetime, timedelta, timezone

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from zope.interface import implementer

from srst.mgcp.config import CcmManagerConfig, HostPort, Switchback, SwitchbackMode
from srst.mgcp.fallback import FallbackStatus, IFallbackTarget, newFallbackMonitor, secondsUntil
from srst.mgcp.transactions import MgcpTimeout
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from tests.mgcphelpers import mgcpDebugLog

BASE = datetime(2015, 3, 24, 9, 33, 10, tzinfo=timezone.utc)
"""Wall-clock time at clock.seconds() == 0."""

PORTS = ("1/0/0", "1/0/1", "1/1/0")


@implementer(IFallbackTarget)
class FakeTarget:
    """
    Records what the monitor asks for; keepalives and RSIPs return
    L{Deferred}s the test fires.

    @ivar actions: C{("keepalive",)}, C{("restart", method, ports)},
        C{("fallback",)}, C{("return", name)} in order.
    @ivar pending: the unfired L{Deferred}s by kind.
    @ivar busy: names of ports with a call.
    """

    def __init__(self, ports=PORTS):
        self.ports = list(ports)
        self.actions = []
        self.keepalives = []
        self.restarts = []
        self.probes = []
        self.busy = set()

    def sendKeepalive(self):
        d = Deferred()
        self.actions.append(("keepalive",))
        self.keepalives.append(d)
        return d

    def sendRestart(self, method, portNames):
        d = Deferred()
        self.actions.append(("restart", method, tuple(portNames)))
        self.restarts.append(d)
        return d

    def enterFallback(self):
        self.actions.append(("fallback",))

    def useCallAgent(self, address):
        self.actions.append(("use", address))

    def forgetCallAgent(self, address):
        self.actions.append(("forget", address))

    def probeCallAgent(self, address):
        d = Deferred()
        self.actions.append(("probe", address))
        self.probes.append(d)
        return d

    def portNames(self):
        return list(self.ports)

    def isPortIdle(self, name):
        return name not in self.busy

    def returnPort(self, name):
        self.actions.append(("return", name))

    def of(self, kind):
        """
        @return: the recorded actions of C{kind}.
        """
        return [a for a in self.actions if a[0] == kind]


def makeMonitor(config=None, ports=PORTS, start=None):
    """
    @return: C{(clock, target, monitor)}, the monitor stopped unless
        C{start} is C{"registering"} or C{"registered"}.
    """
    clock = Clock()
    target = FakeTarget(ports)

    def now():
        return BASE + timedelta(seconds=clock.seconds())

    monitor = newFallbackMonitor(clock, now, config if config is not None else CcmManagerConfig(fallbackMgcp=True),
                                 "127.0.0.1", target, mgcpDebugLog())
    if start in ("registering", "registered"):
        monitor.start()
    if start == "registered":
        target.restarts[-1].callback(None)
    return clock, target, monitor


def timeout():
    """
    @return: a L{Failure} like the transaction layer's.
    """
    return Failure(MgcpTimeout(7, 8, ("127.0.0.1", 2727)))


def switchbackConfig(switchback, **kw):
    """
    @return: a fallback-selected configuration with C{switchback}.
    """
    return CcmManagerConfig(fallbackMgcp=True, switchback=switchback, **kw)


def inFallback(config=None, busy=()):
    """
    @return: C{(clock, target, monitor)} in fallback after 30 s of silence,
        with C{busy} ports busy and the recorded actions cleared.
    """
    clock, target, monitor = makeMonitor(config, start="registered")
    target.busy.update(busy)
    clock.advance(30)
    assert monitor.status is FallbackStatus.FALLBACK, monitor.status
    del target.actions[:]
    return clock, target, monitor


class RegistrationTests(SynchronousTestCase):
    """
    Starting, registering and stopping.
    """

    def test_stoppedUntilStarted(self):
        """
        A new monitor sends nothing and arms no timer until started.
        """
        clock, target, monitor = makeMonitor()
        self.assertIs(monitor.status, FallbackStatus.STOPPED)
        self.assertEqual((target.actions, clock.getDelayedCalls()), ([], []))
        self.assertIsNone(monitor.activeCallManager)

    def test_startSendsRestart(self):
        """
        Starting sends RSIP restart for every port; the call agent counts as
        active while it is outstanding.
        """
        clock, target, monitor = makeMonitor(start="registering")
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(target.actions, [("restart", "restart", PORTS)])
        self.assertEqual(monitor.activeCallManager, "127.0.0.1")
        self.assertEqual(monitor.fallbackMode, "Enabled/OFF")

    def test_restartAnswered(self):
        """
        The answer to the RSIP registers the gateway and counts as traffic.
        """
        clock, target, monitor = makeMonitor(start="registering")
        clock.advance(2)
        target.restarts[0].callback(None)
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)
        self.assertEqual(monitor.lastTraffic, BASE + timedelta(seconds=2))

    def test_restartRetried(self):
        """
        An RSIP that fails is sent again a keepalive interval later.
        """
        clock, target, monitor = makeMonitor(start="registering")
        target.restarts[0].errback(timeout())
        clock.advance(14)
        self.assertEqual(len(target.of("restart")), 1)
        clock.advance(1)
        self.assertEqual(len(target.of("restart")), 2)
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)

    def test_bootWithoutCallAgent(self):
        """
        When the call agent never answers, the ports go to local control
        after the failover interval.
        """
        clock, target, monitor = makeMonitor(start="registering")
        clock.advance(29)
        self.assertEqual(target.of("fallback"), [])
        clock.advance(1)
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(target.of("fallback"), [("fallback",)])

    def test_stopCancelsTimers(self):
        """
        Stopping from any state leaves no timer, and late answers to
        keepalives and RSIPs are ignored.
        """
        for state in ("registering", "registered", "fallback", "disconnected", "pending"):
            clock, target, monitor = makeMonitor(
                CcmManagerConfig(fallbackMgcp=state != "disconnected"), start="registered")
            target.busy.add("1/0/0")
            target.busy.add("1/0/1")
            target.busy.add("1/1/0")
            if state == "registering":
                monitor.start()
            elif state != "registered":
                clock.advance(30)
            if state == "pending":
                monitor.trafficReceived()
                self.assertIs(monitor.status, FallbackStatus.SWITCHBACK_PENDING)
            monitor.stop()
            self.assertIs(monitor.status, FallbackStatus.STOPPED, state)
            self.assertEqual(clock.getDelayedCalls(), [], state)
            for d in target.keepalives + target.restarts:
                if not d.called:
                    d.callback(None)
            self.assertIs(monitor.status, FallbackStatus.STOPPED, state)


class DetectionTests(SynchronousTestCase):
    """
    Keepalives and detection of the call agent's loss (mgcp.md 9.1).
    """

    def test_keepaliveAfterSilence(self):
        """
        An empty-NTFY keepalive is sent after 15 s without traffic, and its
        time recorded.
        """
        clock, target, monitor = makeMonitor(start="registered")
        clock.advance(14.9)
        self.assertEqual(target.of("keepalive"), [])
        clock.advance(0.1)
        self.assertEqual(target.of("keepalive"), [("keepalive",)])
        self.assertEqual(monitor.lastKeepaliveSent, BASE + timedelta(seconds=15))

    def test_answeredKeepalives(self):
        """
        An answered keepalive is traffic: the next is sent 15 s later and
        the call agent is never lost.
        """
        clock, target, monitor = makeMonitor(start="registered")
        for n in range(1, 6):
            clock.advance(15)
            self.assertEqual(len(target.of("keepalive")), n)
            target.keepalives[-1].callback(None)
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)
        self.assertEqual(monitor.lastTraffic, BASE + timedelta(seconds=75))

    def test_silenceMeansFallback(self):
        """
        After 30 s without hearing from the call agent (one unanswered
        keepalive at 15 s) the ports go to local control.
        """
        clock, target, monitor = makeMonitor(start="registered")
        clock.advance(29.9)
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)
        clock.advance(0.1)
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(target.actions[1:], [("keepalive",), ("fallback",)])
        self.assertEqual(monitor.lastFailover, BASE + timedelta(seconds=30))
        self.assertEqual(monitor.fallbackStart, BASE + timedelta(seconds=30))
        self.assertIsNone(monitor.activeCallManager)
        self.assertEqual(monitor.fallbackMode, "Enabled/ON")

    def test_trafficResetsDetection(self):
        """
        Traffic from the call agent restarts both the keepalive and the
        failover intervals.
        """
        clock, target, monitor = makeMonitor(start="registered")
        clock.advance(10)
        monitor.trafficReceived()
        clock.advance(14)
        self.assertEqual(target.of("keepalive"), [])
        clock.advance(1)
        self.assertEqual(len(target.of("keepalive")), 1)
        clock.advance(14.9)
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)
        self.assertEqual(len(target.of("keepalive")), 1)
        clock.advance(0.1)
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(monitor.lastTraffic, BASE + timedelta(seconds=10))

    def test_timeoutWhileSilent(self):
        """
        A transaction timeout after a keepalive interval of silence means
        fallback at once.
        """
        clock, target, monitor = makeMonitor(start="registered")
        clock.advance(20)
        monitor.transactionTimedOut()
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(target.of("fallback"), [("fallback",)])

    def test_endpointTimeoutWhileSilent(self):
        """
        A timeout of a command for one endpoint is no proof that the call
        agent is gone, even after a keepalive interval of silence (it may
        not serve that endpoint, RFC 3435 4.3): a keepalive checks (here
        the one sent at 15 s, still outstanding, so no other is sent), and
        its failure decides.
        """
        clock, target, monitor = makeMonitor(start="registered")
        clock.advance(20)
        self.assertEqual(len(target.of("keepalive")), 1)
        monitor.endpointTimedOut()
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)
        self.assertEqual(target.of("fallback"), [])
        self.assertEqual(len(target.of("keepalive")), 1)
        monitor.transactionTimedOut()
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)

    def test_timeoutWhileHeard(self):
        """
        A transaction timeout while the call agent was heard recently only
        sends a keepalive to check.
        """
        clock, target, monitor = makeMonitor(start="registered")
        clock.advance(10)
        monitor.trafficReceived()
        clock.advance(5)
        monitor.transactionTimedOut()
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)
        self.assertEqual(target.of("keepalive"), [("keepalive",)])

    def test_simultaneousTimeoutsOneKeepalive(self):
        """
        Six transactions timing out in the same instant while the call
        agent was heard recently send one keepalive, not six (issue 12
        item 6); once it is answered, the next timeout checks again, and a
        failed check is followed by one new check.
        """
        clock, target, monitor = makeMonitor(start="registered")
        clock.advance(10)
        monitor.trafficReceived()
        clock.advance(5)
        for ignored in range(6):
            monitor.transactionTimedOut()
        self.assertEqual(target.of("keepalive"), [("keepalive",)])
        self.assertEqual(monitor.keepalivesOutstanding, 1)
        target.keepalives[-1].callback(None)
        self.assertEqual(monitor.keepalivesOutstanding, 0)
        clock.advance(1)
        monitor.transactionTimedOut()
        self.assertEqual(len(target.of("keepalive")), 2)
        target.keepalives[-1].errback(timeout())
        self.assertEqual((len(target.of("keepalive")), monitor.keepalivesOutstanding), (3, 1))

    def test_keepaliveTimeout(self):
        """
        A keepalive whose transaction times out counts as a transaction
        timeout: with a short keepalive interval the call agent is lost
        before the failover interval ends.
        """
        clock, target, monitor = makeMonitor(CcmManagerConfig(True, keepaliveInterval=5, failoverInterval=60),
                                             start="registered")
        clock.advance(5)
        clock.advance(20)
        target.keepalives[0].errback(timeout())
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)

    def test_notSelected(self):
        """
        Without fallback-mgcp the lost call agent is only probed: the ports
        are never handed over, and when it answers the gateway registers
        again.
        """
        clock, target, monitor = makeMonitor(CcmManagerConfig(fallbackMgcp=False), start="registered")
        clock.advance(30)
        self.assertIs(monitor.status, FallbackStatus.DISCONNECTED)
        self.assertEqual(monitor.fallbackMode, "Not Selected")
        self.assertIsNone(monitor.activeCallManager)
        self.assertEqual(monitor.lastFailover, BASE + timedelta(seconds=30))
        self.assertIsNone(monitor.fallbackStart)
        del target.actions[:]
        clock.pump([15, 15, 15])
        self.assertEqual(target.actions, [("keepalive",)] * 3)
        target.keepalives[-1].errback(timeout())
        monitor.transactionTimedOut()
        self.assertIs(monitor.status, FallbackStatus.DISCONNECTED)
        target.keepalives[-2].callback(None)
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(target.actions[-1], ("restart", "restart", PORTS))
        self.assertEqual(target.of("fallback") + target.of("return"), [])
        target.restarts[-1].callback(None)
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)


class FallbackTests(SynchronousTestCase):
    """
    In fallback the call agent is probed every keepalive interval.
    """

    def test_probing(self):
        """
        A keepalive is sent every 15 s; failed probes and timeouts change
        nothing.
        """
        clock, target, monitor = inFallback()
        for n in range(1, 4):
            clock.advance(15)
            self.assertEqual(len(target.of("keepalive")), n)
            target.keepalives[-1].errback(timeout())
            monitor.transactionTimedOut()
            monitor.portIdle("1/0/0")
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(target.of("return"), [])

    def test_commandIsNoProof(self):
        """
        A command from the call agent's address in fallback (or with
        fallback not selected, disconnected) ends neither: only an answer
        to the gateway's own keepalive does.
        """
        for config, status in ((switchbackConfig(Switchback(SwitchbackMode.IMMEDIATE)), FallbackStatus.FALLBACK),
                               (CcmManagerConfig(), FallbackStatus.DISCONNECTED)):
            clock, target, monitor = makeMonitor(config, start="registered")
            clock.advance(30)
            self.assertIs(monitor.status, status)
            del target.actions[:]
            for i in range(5):
                monitor.commandReceived()
            self.assertIs(monitor.status, status)
            self.assertEqual(target.actions, [])
            clock.advance(15)
            target.keepalives[-1].callback(None)
            self.assertIs(monitor.status, FallbackStatus.REGISTERING)
            self.assertEqual(target.actions[-1][:2], ("restart", "restart"))

    def test_commandHoldsOffKeepalive(self):
        """
        While registered, a command from the call agent counts as hearing
        from it: no keepalive and no fallback while commands keep coming.
        """
        clock, target, monitor = makeMonitor(start="registered")
        for i in range(6):
            clock.advance(10)
            monitor.commandReceived()
        self.assertEqual(target.of("keepalive"), [])
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)

    def test_lostAgainAfterSwitchback(self):
        """
        When the RSIP after a switchback goes unanswered the ports go back
        to local control at the failover interval.
        """
        clock, target, monitor = inFallback(switchbackConfig(Switchback(SwitchbackMode.IMMEDIATE)))
        monitor.trafficReceived()
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        clock.advance(30)
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(len(target.of("fallback")), 1)
        self.assertEqual(monitor.fallbackStart, BASE + timedelta(seconds=60))


class SwitchbackTests(SynchronousTestCase):
    """
    Each C{ccm-manager switchback} mode.
    """

    def test_immediate(self):
        """
        Switchback immediate happens as soon as the call agent answers,
        calls or not: the idle ports go back at once with RSIP restart; a
        port with a call keeps it and follows, with its own RSIP, when the
        call ends (an RSIP restart says the port has no connection).
        """
        clock, target, monitor = inFallback(switchbackConfig(Switchback(SwitchbackMode.IMMEDIATE)),
                                            busy={"1/0/0"})
        clock.advance(15)
        target.keepalives[-1].callback(None)
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(target.actions, [("keepalive",), ("return", "1/0/1"), ("return", "1/1/0"),
                                          ("restart", "restart", ("1/0/1", "1/1/0"))])
        self.assertEqual(monitor.pendingPorts, {"1/0/0"})
        target.busy.clear()
        monitor.portIdle("1/0/0")
        self.assertEqual(target.actions[4:], [("return", "1/0/0"), ("restart", "restart", ("1/0/0",))])
        self.assertEqual(monitor.pendingPorts, set())
        del target.actions[4:]
        self.assertEqual(monitor.lastSwitchback, BASE + timedelta(seconds=45))
        self.assertEqual(monitor.fallbackEnd, BASE + timedelta(seconds=45))
        self.assertEqual(monitor.fallbackMode, "Enabled/OFF")
        target.restarts[-1].callback(None)
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)
        self.assertEqual(monitor.activeCallManager, "127.0.0.1")

    def test_gracefulAllIdle(self):
        """
        Switchback graceful with every port idle returns them all at once.
        """
        clock, target, monitor = inFallback()
        monitor.trafficReceived()
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(target.actions[-1], ("restart", "restart", PORTS))
        self.assertEqual(monitor.pendingPorts, set())

    def test_gracefulWaitsForBusyPorts(self):
        """
        Switchback graceful returns idle ports at once and each busy port
        when it becomes idle, with an RSIP for it.
        """
        clock, target, monitor = inFallback(busy={"1/0/0"})
        monitor.trafficReceived()
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(target.actions, [("return", "1/0/1"), ("return", "1/1/0"),
                                          ("restart", "restart", ("1/0/1", "1/1/0"))])
        self.assertEqual(monitor.pendingPorts, {"1/0/0"})
        target.restarts[-1].callback(None)
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)
        monitor.portIdle("1/0/0")
        self.assertEqual(len(target.of("return")), 2, "still busy: not returned")
        target.busy.clear()
        monitor.portIdle("1/0/0")
        self.assertEqual(target.actions[-2:], [("return", "1/0/0"), ("restart", "restart", ("1/0/0",))])
        self.assertEqual(monitor.pendingPorts, set())
        monitor.portIdle("1/0/0")
        self.assertEqual(len(target.of("return")), 3)

    def test_gracefulEveryPortBusy(self):
        """
        With every port busy, switchback graceful waits in
        switchback-pending until a port reports idle.
        """
        clock, target, monitor = inFallback(busy=set(PORTS))
        monitor.trafficReceived()
        self.assertIs(monitor.status, FallbackStatus.SWITCHBACK_PENDING)
        self.assertEqual(monitor.fallbackMode, "Enabled/ON")
        self.assertIsNone(monitor.activeCallManager)
        monitor.portIdle("1/1/0")
        self.assertIs(monitor.status, FallbackStatus.SWITCHBACK_PENDING)
        target.busy.discard("1/1/0")
        monitor.portIdle("1/1/0")
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(target.actions, [("return", "1/1/0"), ("restart", "restart", ("1/1/0",))])
        self.assertEqual(monitor.pendingPorts, {"1/0/0", "1/0/1"})

    def test_immediateEveryPortBusy(self):
        """
        Switchback immediate with a call on every port waits in
        switchback-pending (keepalives answered, the call agent not lost)
        and goes as soon as a port is idle; leaving fallback with nothing
        to register would only time out back into it.
        """
        clock, target, monitor = inFallback(switchbackConfig(Switchback(SwitchbackMode.IMMEDIATE)),
                                            busy=set(PORTS))
        monitor.trafficReceived()
        self.assertIs(monitor.status, FallbackStatus.SWITCHBACK_PENDING)
        for _ in range(4):
            clock.advance(15)
            target.keepalives[-1].callback(None)
        self.assertIs(monitor.status, FallbackStatus.SWITCHBACK_PENDING)
        self.assertEqual(target.of("restart"), [])
        target.busy.discard("1/0/1")
        monitor.portIdle("1/0/1")
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(target.actions[-2:], [("return", "1/0/1"), ("restart", "restart", ("1/0/1",))])
        target.restarts[-1].callback(None)
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)
        self.assertEqual(monitor.pendingPorts, {"1/0/0", "1/1/0"})

    def test_uptimeDelayEveryPortBusy(self):
        """
        Once the uptime delay has passed, switchback waits for a first idle
        port instead of leaving fallback with none.
        """
        clock, target, monitor = inFallback(switchbackConfig(Switchback(SwitchbackMode.UPTIME_DELAY, minutes=1)),
                                            busy=set(PORTS))
        monitor.trafficReceived()
        for _ in range(8):
            clock.advance(10)
            monitor.trafficReceived()
        self.assertIs(monitor.status, FallbackStatus.SWITCHBACK_PENDING)
        self.assertEqual(target.of("restart"), [])
        target.busy.discard("1/0/0")
        monitor.portIdle("1/0/0")
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(target.of("restart"), [("restart", "restart", ("1/0/0",))])

    def test_reconnectedWithEveryPortBusy(self):
        """
        Without fallback, a call agent heard again while every port has a
        call gets no RSIP restart (none may be named): the gateway goes
        through registering and is registered as soon as that transition
        ends, with no timer involved.
        """
        clock, target, monitor = makeMonitor(CcmManagerConfig(fallbackMgcp=False), start="registered")
        target.busy.update(PORTS)
        clock.advance(30)
        self.assertIs(monitor.status, FallbackStatus.DISCONNECTED)
        del target.actions[:]
        with capturedLogs() as events:
            monitor.trafficReceived()
        transitions = [(e["old"], e["new"]) for e in events if e.get("log_namespace") == "srst.mgcp.fallback"
                       and "new" in e]
        self.assertEqual(transitions, [("disconnected", "registering"), ("registering", "registered")])
        self.assertIs(monitor.status, FallbackStatus.REGISTERED)
        self.assertEqual(target.of("restart"), [])

    def test_gracefulPolls(self):
        """
        A port that became idle without notice is found at the next
        keepalive interval, in switchback-pending and after.
        """
        clock, target, monitor = inFallback(busy=set(PORTS))
        monitor.trafficReceived()
        target.busy.discard("1/0/0")
        clock.advance(15)
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        target.restarts[-1].callback(None)
        target.busy.clear()
        clock.advance(15)
        self.assertEqual(monitor.pendingPorts, set())
        self.assertEqual(len(target.of("return")), 3)

    def test_gracefulLostWhilePending(self):
        """
        When the call agent falls silent again while switchback is pending
        the monitor goes back to fallback without handing ports over again.
        """
        clock, target, monitor = inFallback(busy=set(PORTS))
        monitor.trafficReceived()
        clock.advance(30)
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(target.of("fallback") + target.of("return"), [])
        self.assertEqual(monitor.lastFailover, BASE + timedelta(seconds=60))

    def test_never(self):
        """
        Switchback never keeps the ports local though the call agent
        answers.
        """
        clock, target, monitor = inFallback(switchbackConfig(Switchback(SwitchbackMode.NEVER)))
        for _ in range(5):
            clock.advance(15)
            target.keepalives[-1].callback(None)
            monitor.trafficReceived()
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(target.of("return") + target.of("restart"), [])
        self.assertEqual(monitor.lastTraffic, BASE + timedelta(seconds=105))

    def test_scheduleTime(self):
        """
        Switchback schedule-time returns the ports at the next occurrence of
        that wall-clock time, read from C{now}.
        """
        clock, target, monitor = inFallback(switchbackConfig(Switchback(SwitchbackMode.SCHEDULE_TIME,
                                                                        time=(10, 0))))
        monitor.trafficReceived()
        self.assertIs(monitor.status, FallbackStatus.SWITCHBACK_PENDING)
        # BASE + 30 s = 09:33:40; 10:00 is 1580 s away.
        for _ in range(105):
            clock.advance(15)
            target.keepalives[-1].callback(None)
        self.assertIs(monitor.status, FallbackStatus.SWITCHBACK_PENDING)
        clock.advance(5)
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(monitor.lastSwitchback, datetime(2015, 3, 24, 10, 0, tzinfo=timezone.utc))
        self.assertEqual(target.of("restart"), [("restart", "restart", PORTS)])

    def test_uptimeDelay(self):
        """
        Switchback uptime-delay returns the ports once the call agent has
        answered for that many minutes.
        """
        clock, target, monitor = inFallback(switchbackConfig(Switchback(SwitchbackMode.UPTIME_DELAY, minutes=2)))
        monitor.trafficReceived()
        for _ in range(11):
            clock.advance(10)
            monitor.trafficReceived()
        self.assertIs(monitor.status, FallbackStatus.SWITCHBACK_PENDING)
        clock.advance(10)
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)

    def test_uptimeDelayResets(self):
        """
        If the call agent falls silent during the uptime delay the count
        starts again when it answers again.
        """
        clock, target, monitor = inFallback(switchbackConfig(Switchback(SwitchbackMode.UPTIME_DELAY, minutes=2)))
        monitor.trafficReceived()
        clock.advance(30)
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)
        clock.advance(60)
        monitor.trafficReceived()
        self.assertIs(monitor.status, FallbackStatus.SWITCHBACK_PENDING)
        for _ in range(11):
            clock.advance(10)
            monitor.trafficReceived()
        self.assertIs(monitor.status, FallbackStatus.SWITCHBACK_PENDING)
        clock.advance(10)
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        self.assertEqual(monitor.lastSwitchback, BASE + timedelta(seconds=30 + 30 + 60 + 120))


class SecondsUntilTests(SynchronousTestCase):
    """
    L{secondsUntil}, the schedule-time delay.
    """

    def test_laterToday(self):
        """
        A time later today is reached today.
        """
        self.assertEqual(secondsUntil(datetime(2015, 3, 24, 9, 30, tzinfo=timezone.utc), (10, 0)), 1800)

    def test_passedOrNow(self):
        """
        A time already passed today, or exactly now, is tomorrow's.
        """
        self.assertEqual(secondsUntil(datetime(2015, 3, 24, 10, 0, 30, tzinfo=timezone.utc), (10, 0)),
                         86400 - 30)
        self.assertEqual(secondsUntil(datetime(2015, 3, 24, 10, 0, tzinfo=timezone.utc), (10, 0)), 86400)


def monitorIn(state):
    """
    @return: C{(clock, target, monitor)} with the monitor in C{state}.
    """
    config = CcmManagerConfig(fallbackMgcp=state is not FallbackStatus.DISCONNECTED)
    clock, target, monitor = makeMonitor(config)
    if state is FallbackStatus.STOPPED:
        return clock, target, monitor
    monitor.start()
    if state is FallbackStatus.REGISTERING:
        return clock, target, monitor
    target.restarts[-1].callback(None)
    if state is FallbackStatus.REGISTERED:
        return clock, target, monitor
    target.busy.update(PORTS)
    clock.advance(30)
    if state is FallbackStatus.SWITCHBACK_PENDING:
        monitor.trafficReceived()
    return clock, target, monitor


class RobustnessTests(SynchronousTestCase):
    """
    Inputs that arrive late (answers to old keepalives and RSIPs) or at odd
    times never raise.
    """

    def test_everyInputInEveryState(self):
        """
        Every input, public or fed back from a keepalive, RSIP or timer, is
        accepted in every state.
        """
        inputs = ["start", "stop", "trafficReceived", "commandReceived", "transactionTimedOut", "endpointTimedOut",
                  "_keepaliveDue", "_lost",
                  "_disconnected", "_restartAnswered", "_restartFailed", "_probeFailed", "_switchbackNow",
                  "_awaitSwitchback", "_switchbackTime"]
        for state in FallbackStatus:
            for name in inputs + ["portIdle"]:
                clock, target, monitor = monitorIn(state)
                self.assertIs(monitor.status, state)
                method = getattr(monitor._machine, name)
                if name == "portIdle":
                    method("1/0/0")
                else:
                    method()
                self.assertIsInstance(monitor.status, FallbackStatus)


class RedundantHostTests(SynchronousTestCase):
    """
    C{ccm-manager redundant-hosts} (mgcp.md 9.2): the monitor moves to the
    next call agent when the active one is lost, falls back only when the
    last one is, probes the primary while a backup is active and returns
    to it per C{switchback}.
    """

    backups = (HostPort("127.0.0.2"), HostPort("127.0.0.3", 2500))

    def test_failoverChainThenFallback(self):
        """
        Primary lost: RSIP restart to the first backup; no answer for the
        failover interval: the second; then fallback, and the probes go to
        each call agent in turn, the primary first.
        """
        clock, target, monitor = makeMonitor(switchbackConfig(Switchback(), redundantHosts=self.backups),
                                             start="registered")
        del target.actions[:]
        clock.advance(30)
        self.assertEqual(target.actions[-2:], [("use", ("127.0.0.2", 2427)), ("restart", "restart", PORTS)])
        self.assertEqual((monitor.status, monitor.activeCallManager), (FallbackStatus.REGISTERING, "127.0.0.2"))
        clock.advance(30)
        self.assertEqual(target.actions[-2:], [("use", ("127.0.0.3", 2500)), ("restart", "restart", PORTS)])
        clock.advance(30)
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)
        self.assertEqual(target.of("fallback"), [("fallback",)])
        self.assertEqual(target.of("forget"), [("forget", ("127.0.0.1", 2427)), ("forget", ("127.0.0.2", 2427))])
        del target.actions[:]
        clock.pump([15, 15, 15])
        self.assertEqual(target.of("use"), [("use", ("127.0.0.1", 2427)), ("use", ("127.0.0.2", 2427)),
                                            ("use", ("127.0.0.3", 2500))])
        self.assertEqual(monitor.hostStatuses, [("127.0.0.1", "Down"), ("127.0.0.2", "Down"), ("127.0.0.3", "Down")])

    def onBackup(self, switchback):
        clock, target, monitor = makeMonitor(switchbackConfig(switchback, redundantHosts=self.backups),
                                             start="registered")
        clock.advance(30)
        target.restarts[-1].callback(None)
        self.assertEqual((monitor.status, monitor.activeCallManager), (FallbackStatus.REGISTERED, "127.0.0.2"))
        del target.actions[:]
        return clock, target, monitor

    def test_uptimeDelay(self):
        """
        C{uptime-delay 2}: the primary must answer its probes for two
        minutes; a probe it misses starts the count again.
        """
        clock, target, monitor = self.onBackup(Switchback(SwitchbackMode.UPTIME_DELAY, minutes=2))
        clock.advance(15)
        self.assertEqual(target.of("probe"), [("probe", ("127.0.0.1", 2427))])
        target.probes[-1].callback(None)
        target.keepalives[-1].callback(None)
        self.assertEqual(monitor.hostStatuses[0], ("127.0.0.1", "Backup Ready"))
        clock.advance(15)
        target.probes[-1].errback(timeout())
        self.assertEqual(monitor.hostStatuses[0], ("127.0.0.1", "Down"))
        for step in range(8):
            target.keepalives[-1].callback(None)
            clock.advance(15)
            target.probes[-1].callback(None)
            self.assertEqual(target.of("use"), [])
        target.keepalives[-1].callback(None)
        clock.advance(15)
        target.probes[-1].callback(None)
        self.assertEqual(target.of("use"), [("use", ("127.0.0.1", 2427))])
        self.assertEqual(target.of("restart"), [("restart", "restart", PORTS)])
        self.assertIs(monitor.status, FallbackStatus.REGISTERING)
        self.assertIsNotNone(monitor.lastSwitchback)

    def test_lateProbeAnswerInFallback(self):
        """
        In fallback the probes go to each call agent in turn; when the
        primary answers its probe only after the next probe went to the
        first backup (the answer to a retransmission), the primary is the
        one heard alive: the gateway makes it active again and registers
        with it, never with the backup that has not answered.  The
        backup's own answer, arriving later still, changes nothing.
        """
        clock, target, monitor = makeMonitor(switchbackConfig(Switchback(), redundantHosts=self.backups),
                                             start="registered")
        clock.pump([30, 30, 30])
        self.assertIs(monitor.status, FallbackStatus.FALLBACK)
        del target.actions[:]
        clock.advance(15)
        toPrimary = target.keepalives[-1]
        clock.advance(15)
        toBackup = target.keepalives[-1]
        self.assertEqual(target.actions, [("use", ("127.0.0.1", 2427)), ("keepalive",),
                                          ("use", ("127.0.0.2", 2427)), ("keepalive",)])
        del target.actions[:]
        toPrimary.callback(None)
        self.assertEqual(target.actions, [("use", ("127.0.0.1", 2427))] + [("return", name) for name in PORTS]
                         + [("restart", "restart", PORTS)])
        self.assertEqual((monitor.status, monitor.activeCallManager), (FallbackStatus.REGISTERING, "127.0.0.1"))
        toBackup.callback(None)
        target.restarts[-1].callback(None)
        self.assertEqual(target.of("use"), [("use", ("127.0.0.1", 2427))])
        self.assertEqual((monitor.status, monitor.activeCallManager), (FallbackStatus.REGISTERED, "127.0.0.1"))
