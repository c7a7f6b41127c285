"""
Tests for L{srst.mgcp.commands}: C{show ccm-manager} and C{show ccm-manager
fallback-mgcp} (mgcp.md 9.5), golden text and JSON data.
"""

import json
from datetime import datetime, timedelta, timezone

from twisted.trial.unittest import SynchronousTestCase

from srst.admin.commands import CommandTable
from srst.config import loadString
from srst.mgcp.commands import formatTime, registerMgcpCommands, renderMgcp
from srst.mgcp.config import CcmManagerConfig, HostPort, Switchback, SwitchbackMode
from tests.mgcphelpers import DOMAIN, GatewayHarness
from tests.test_mgcp_fallback import BASE, makeMonitor

CONFIG = """
hostname: branch-router
pki:
  server: {name: srstcaserver}
  trustpoints:
    srstca: {enrollment: {server: srstcaserver}}
mgcp:
  call-agent: {host: 127.0.0.1, port: 2727}
"""

REGISTERED = """\
MGCP Domain Name: branch-router
Priority        Status                   Host
============================================================
Primary         Registered               127.0.0.1
First Backup    None
Second Backup   None

Current active Call Manager:    127.0.0.1
Backhaul/Redundant link port:   2428
Failover Interval:              30 seconds
Keepalive Interval:             15 seconds
Last keepalive sent:            09:33:25 UTC Mar 24 2015 (elapsed time: 00:00:01)
Last MGCP traffic time:         09:33:25 UTC Mar 24 2015 (elapsed time: 00:00:01)
Last failover time:             None
Last switchback time:           None
Switchback mode:                Graceful
MGCP Fallback mode:             Not Selected
Last MGCP Fallback start time:  None
Last MGCP Fallback end time:    None
MGCP Download Tones:            Disabled
TFTP retry count to shut Ports: 2

FAX mode: disable
Configuration Error History:"""

FALLBACK = """\
MGCP Domain Name: branch-router
Priority        Status                   Host
============================================================
Primary         Down                     127.0.0.1
First Backup    Down                     127.0.0.2
Second Backup   None

Current active Call Manager:    None
Backhaul/Redundant link port:   2428
Failover Interval:              30 seconds
Keepalive Interval:             15 seconds
Last keepalive sent:            10:33:55 UTC Mar 24 2015 (elapsed time: 00:00:00)
Last MGCP traffic time:         09:33:10 UTC Mar 24 2015 (elapsed time: 01:00:45)
Last failover time:             09:34:10 UTC Mar 24 2015 (elapsed time: 00:59:45)
Last switchback time:           None
Switchback mode:                Uptime-delay 10 minutes
MGCP Fallback mode:             Enabled/ON
Last MGCP Fallback start time:  09:34:10 UTC Mar 24 2015 (elapsed time: 00:59:45)
Last MGCP Fallback end time:    None
MGCP Download Tones:            Disabled
TFTP retry count to shut Ports: 2

FAX mode: disable
Configuration Error History:"""


class CcmManagerCommandTests(SynchronousTestCase):
    """
    The commands registered by L{registerMgcpCommands}.
    """

    def setUp(self):
        self.config = loadString(CONFIG)
        self.table = CommandTable()

    def runCommand(self, monitor, clock, words):
        """
        Register the commands for C{monitor} and run C{words}.
        """
        registerMgcpCommands(self.table, monitor, self.config, lambda: BASE + timedelta(seconds=clock.seconds()))
        command, variables = self.table.lookup(words.split())
        return command.handler(**variables)

    def test_registeredNotSelected(self):
        """
        A registered gateway without fallback-mgcp shows its active call
        agent, keepalive and traffic times with elapsed time, and
        C{Not Selected}.
        """
        clock, target, monitor = makeMonitor(CcmManagerConfig(), start="registered")
        clock.advance(15)
        target.keepalives[0].callback(None)
        clock.advance(1)
        result = self.runCommand(monitor, clock, "show ccm-manager")
        self.assertEqual(result.text, REGISTERED)
        self.assertEqual(result.data["activeCallManager"], "127.0.0.1")
        self.assertEqual(result.data["fallbackMode"], "Not Selected")
        self.assertEqual(result.data["lastKeepaliveSent"], "2015-03-24T09:33:25+00:00")
        self.assertEqual(result.data["state"], "registered")
        json.dumps(result.data)

    def test_fallback(self):
        """
        In fallback the primary and the redundant host are down (the backup
        took over at 09:33:40 and never answered its RSIP), no call manager
        is active, and the fallback start and (last) failover times are
        shown.
        """
        config = CcmManagerConfig(True, Switchback(SwitchbackMode.UPTIME_DELAY, minutes=10),
                                  redundantHosts=(HostPort("127.0.0.2"),))
        clock, target, monitor = makeMonitor(config, start="registered")
        clock.pump([15, 15])
        clock.advance(30)
        clock.advance(3600 - 15)
        result = self.runCommand(monitor, clock, "show ccm-manager")
        self.assertEqual(result.text, FALLBACK)
        self.assertEqual(result.data["callAgents"][1],
                         {"priority": "first backup", "status": "Down", "host": "127.0.0.2", "port": 2427})
        self.assertEqual(result.data["switchback"], "uptime-delay 10")
        self.assertEqual(result.data["fallbackStart"], "2015-03-24T09:34:10+00:00")
        json.dumps(result.data)

    def test_fallbackMgcp(self):
        """
        C{show ccm-manager fallback-mgcp} shows the mode and the start and
        end times of the last fallback.
        """
        config = CcmManagerConfig(True, Switchback(SwitchbackMode.IMMEDIATE))
        clock, target, monitor = makeMonitor(config, start="registered")
        self.assertEqual(self.runCommand(monitor, clock, "show ccm-manager fallback-mgcp").text,
                         "Current active Call Manager:    127.0.0.1\n"
                         "MGCP Fallback mode:             Enabled/OFF\n"
                         "Last MGCP Fallback start time:  None\n"
                         "Last MGCP Fallback end time:    None")
        clock.advance(30)
        command, _ = self.table.lookup(["show", "ccm-manager", "fallback-mgcp"])
        self.assertEqual(command.handler().text,
                         "Current active Call Manager:    None\n"
                         "MGCP Fallback mode:             Enabled/ON\n"
                         "Last MGCP Fallback start time:  09:33:40 UTC Mar 24 2015\n"
                         "Last MGCP Fallback end time:    None")
        clock.advance(5)
        monitor.trafficReceived()
        target.restarts[-1].callback(None)
        result = command.handler()
        self.assertEqual(result.text,
                         "Current active Call Manager:    127.0.0.1\n"
                         "MGCP Fallback mode:             Enabled/OFF\n"
                         "Last MGCP Fallback start time:  09:33:40 UTC Mar 24 2015\n"
                         "Last MGCP Fallback end time:    09:33:45 UTC Mar 24 2015")
        self.assertEqual(result.data, {"activeCallManager": "127.0.0.1", "fallbackMode": "Enabled/OFF",
                                       "state": "registered", "fallbackStart": "2015-03-24T09:33:40+00:00",
                                       "fallbackEnd": "2015-03-24T09:33:45+00:00", "pendingPorts": []})

    def test_switchbackModes(self):
        """
        Each switchback mode has its C{Switchback mode} text.
        """
        cases = [(Switchback(SwitchbackMode.IMMEDIATE), "Immediate"),
                 (Switchback(SwitchbackMode.NEVER), "Never"),
                 (Switchback(SwitchbackMode.SCHEDULE_TIME, time=(2, 5)), "Schedule-time 02:05")]
        for switchback, text in cases:
            clock, target, monitor = makeMonitor(CcmManagerConfig(True, switchback))
            self.table = CommandTable()
            result = self.runCommand(monitor, clock, "show ccm-manager")
            self.assertIn("Switchback mode:                " + text + "\n", result.text)
            self.assertIn("Primary         Down ", result.text)


class FormatTimeTests(SynchronousTestCase):
    """
    L{formatTime}.
    """

    def test_none(self):
        """
        No time is C{None}.
        """
        self.assertEqual(formatTime(None, BASE), "None")

    def test_otherZone(self):
        """
        Times are shown in UTC, days without a leading zero, and elapsed
        hours may exceed a day.
        """
        moment = datetime(2006, 3, 1, 11, 15, 22, tzinfo=timezone(timedelta(hours=1)))
        self.assertEqual(formatTime(moment), "10:15:22 UTC Mar 1 2006")
        self.assertEqual(formatTime(moment, moment + timedelta(days=2, seconds=61)),
                         "10:15:22 UTC Mar 1 2006 (elapsed time: 48:01:01)")


class GatewayCommandTests(SynchronousTestCase):
    """
    C{show mgcp} and C{show mgcp statistics}, registered with a gateway.
    """

    def setUp(self):
        self.h = GatewayHarness(redundantHosts=["127.0.0.3"])
        self.table = CommandTable()
        clock, target, monitor = makeMonitor()
        registerMgcpCommands(self.table, monitor, loadString(CONFIG, "router.yaml"), lambda: BASE,
                             gateway=self.h.gateway)

    def show(self, words):
        """@return: what C{words} answers."""
        command, variables = self.table.lookup(words.split())
        return command.handler(**variables)

    def test_showMgcp(self):
        """
        C{show mgcp} shows the call agent and whether its source address
        is validated, as IOS does.
        """
        result = self.show("show mgcp")
        self.assertEqual(result.text, "\n".join([
            "MGCP Admin State ACTIVE, Oper State ACTIVE - Cause Code NONE",
            "MGCP call-agent: 127.0.0.1 2427 Initial protocol service is MGCP 0.1",
            "MGCP validate call-agent source-ipaddr ENABLED",
            "MGCP request timeout 500",
            "MGCP maximum exponential request timeout 4000",
            "MGCP restart delay 0",
            "MGCP persistent hookflash: DISABLED",
            "MGCP persistent offhook: ENABLED",
            "MGCP persistent onhook: DISABLED"]))
        self.assertEqual(result.data["callAgents"], ["127.0.0.1", "127.0.0.3"])
        self.assertEqual(result.data["persistent"], ["offhook"])
        json.dumps(result.data)
        off = GatewayHarness(validateSource=False).gateway
        self.assertIn("MGCP validate call-agent source-ipaddr DISABLED", renderMgcp(off).text)
        asterisk = renderMgcp(GatewayHarness(persistent=["onhook", "offhook"]).gateway).text
        self.assertIn("MGCP persistent offhook: ENABLED\nMGCP persistent onhook: ENABLED", asterisk)

    def test_showMgcpStatistics(self):
        """
        C{show mgcp statistics} counts the datagrams dropped by source
        validation as IOS's C{Unrecognized rx pkts}, apart from parse
        errors.
        """
        self.h.receive("AUEP 1 *@%s MGCP 0.1\n" % (DOMAIN,), ("127.0.0.2", 2427))
        self.h.receive("garbage\n")
        result = self.show("show mgcp statistics")
        self.assertEqual(result.text.splitlines()[:2], [
            "UDP pkts rx 2, tx 0", "Unrecognized rx pkts 1, MGCP message parsing errors 1"])
        self.assertEqual((result.data["refused"], result.data["malformed"]), (1, 1))
        json.dumps(result.data)
