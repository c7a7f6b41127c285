"""
Tests for L{srst.tools._phoneload}: the load report (L{LoadResult},
L{percentile}) and L{LoadGenerator} registering phones over real 127.0.0.1
sockets against L{tests.phonehelpers.MiniRouter}.
"""

from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from srst.debug import DebugSwitches
from srst.tools._phoneclient import DEBUG_NAMESPACE
from srst.tools._phoneload import LoadGenerator, LoadResult, percentile
from srst.tools._phonetypes import PhoneConfig
from tests.phonehelpers import RouterFixture
from tests.routerhelpers import bounded


class LoadResultTests(SynchronousTestCase):
    """
    Percentiles and the load report.
    """

    def test_percentile(self):
        """Nearest-rank percentiles; NaN for no values."""
        values = [float(i) for i in range(1, 101)]
        self.assertEqual(percentile(values, 0.5), 50.0)
        self.assertEqual(percentile(values, 0.99), 99.0)
        self.assertEqual(percentile([3.0], 0.99), 3.0)
        self.assertNotEqual(percentile([], 0.5), percentile([], 0.5))

    def test_report(self):
        """The report gives counts, rate, p50 and p99, and the failure reasons."""
        result = LoadResult(attempted=4, registered=2, rejected=1, failed=1,
                            elapsed=0.5, latencies=(0.010, 0.020),
                            errors=(("refused", 1), ("timeout", 1)))
        self.assertEqual(result.rate, 4.0)
        text = result.describe()
        self.assertIn("registered 2/4 phones in 0.500 s: 4.0 registrations/s",
                      text)
        self.assertIn("p50 10.0 ms p99 20.0 ms", text)
        self.assertIn("1 rejected, 1 failed", text)
        self.assertIn("1 x refused", text)
        figures = result.asDict()
        self.assertEqual(figures["p99Ms"], 20.0)
        self.assertEqual(figures["registrationsPerSecond"], 4.0)
        self.assertEqual(figures["errors"][0], {"error": "refused", "count": 1})

    def test_reportWithoutRegistrations(self):
        """Without any registration the report leaves latency out and JSON gives null."""
        result = LoadResult(attempted=1, registered=0, rejected=1, failed=0,
                            elapsed=0.1, latencies=())
        self.assertNotIn("latency", result.describe())
        self.assertIsNone(result.asDict()["p50Ms"])
        self.assertEqual(result.rate, 0.0)

    def test_badConcurrency(self):
        """A concurrency below 1 is refused."""
        self.assertRaises(ValueError, LoadGenerator, Clock(), "127.0.0.1", 1,
                          [], concurrency=0)


class LoadGeneratorTests(TestCase):
    """
    L{LoadGenerator} on real 127.0.0.1 sockets.
    """

    timeout = 30

    @bounded
    def test_loadGenerator(self):
        """The load generator registers every phone, reports them, and unregisters them all."""
        router = RouterFixture(self, refuse={"SEP000000000003"})
        configs = [PhoneConfig(mac="00000000000%d" % (i,)) for i in range(1, 6)]
        generator = LoadGenerator(reactor, "127.0.0.1", router.portNumber,
                                  configs, concurrency=2)
        result = yield generator.run()
        self.assertEqual((result.attempted, result.registered,
                          result.rejected, result.failed), (5, 4, 1, 0))
        self.assertEqual(result.errors, (("refused", 1),))
        self.assertEqual(len(result.latencies), 4)
        self.assertGreater(result.elapsed, 0)
        self.assertEqual(len(generator.registeredPhones()), 4)
        counts = yield generator.unregisterAll()
        self.assertEqual(counts, (4, 0))
        self.assertEqual(generator.registeredPhones(), [])

    @bounded
    def test_debugSwitches(self):
        """Every phone of a load generator logs through the generator's one set of debug switches."""
        events = []
        switches = DebugSwitches(events.append)
        switches.enable(DEBUG_NAMESPACE)
        router = RouterFixture(self)
        configs = [PhoneConfig(mac="00000000000%d" % (i,)) for i in range(1, 4)]
        generator = LoadGenerator(reactor, "127.0.0.1", router.portNumber,
                                  configs, debug=switches)
        result = yield generator.run()
        self.assertEqual(result.registered, 3)
        self.assertIs(generator.debug, switches)
        self.assertEqual(sorted(e["device"] for e in events
                                if e["log_namespace"] == DEBUG_NAMESPACE),
                         ["SEP000000000001", "SEP000000000002", "SEP000000000003"])
        yield generator.unregisterAll()
