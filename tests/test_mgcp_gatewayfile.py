# -*- test-case-name: tests.test_mgcp_gatewayfile -*-
"""
The gateway configuration file's XML (docs/gateway-config.md).
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.mgcp.config import CcmManagerConfig, HostPort, MgcpConfig
from srst.mgcp.gatewayfile import GatewayFile, GatewayFileError, parseGatewayFile

PORTS = frozenset({"1/0/0", "1/0/1"})


def problems(test: SynchronousTestCase, data: bytes) -> list[str]:
    return test.assertRaises(GatewayFileError, parseGatewayFile, data, CcmManagerConfig(), PORTS).problems


class GatewayFileTests(SynchronousTestCase):
    """
    L{parseGatewayFile} and L{GatewayFile.apply}.
    """

    def test_values(self) -> None:
        """
        Each element read sets its value; the call agent's port defaults to 2427.
        """
        parsed = parseGatewayFile(
            b'<gateway><mgcp><callAgent host="10.1.1.13"/><persistent>onhook</persistent></mgcp>'
            b'<ccmManager><failoverInterval>60</failoverInterval></ccmManager>'
            b'<endpoints><endpoint port="1/0/1"/></endpoints></gateway>', CcmManagerConfig(), PORTS)
        self.assertEqual(parsed, GatewayFile(callAgent=HostPort("10.1.1.13", 2427), persistent=("onhook",),
                                             failoverInterval=60, endpoints=frozenset({"1/0/1"})))

    def test_applyOverridesOnlyWhatIsInTheFile(self) -> None:
        """
        Values the file leaves out keep router.yaml's.
        """
        mgcp = MgcpConfig(callAgent=HostPort("127.0.0.1", 2727), dtmfRelay="none")
        newMgcp, newCcm, ports = GatewayFile(persistent=("onhook",)).apply(mgcp, CcmManagerConfig(), PORTS)
        self.assertEqual((newMgcp.callAgent, newMgcp.dtmfRelay, newMgcp.persistent, newCcm, ports),
                         (mgcp.callAgent, "none", ("onhook",), CcmManagerConfig(), PORTS))

    def test_refused(self) -> None:
        """
        Every problem is named by its element; a DTD, bad XML and another
        root are refused outright.
        """
        self.assertEqual(problems(self, b'<gateway><endpoints><endpoint port="2/0/0"/></endpoints>'
                                        b'<mgcp><callAgent host="ccm" port="99999"/></mgcp></gateway>'),
                         ["/gateway/mgcp/callAgent/@host: 'ccm': expected an IPv4 or IPv6 address",
                          "/gateway/endpoints/endpoint[1]/@port: '2/0/0': expected a voice port "
                          "configured in router.yaml"])
        self.assertEqual(problems(self, b'<gateway><ccmManager><keepaliveInterval>30</keepaliveInterval>'
                                        b'</ccmManager></gateway>'),
                         ["/gateway/ccmManager/failoverInterval: 30: expected more seconds than "
                          "keepaliveInterval (30)"])
        self.assertEqual(problems(self, b'<!DOCTYPE g [<!ENTITY a "aa">]><gateway/>'),
                         ["a DTD or entity declaration is not allowed"])
        self.assertEqual(problems(self, b"<config/>"), ["/config: expected the root element <gateway>"])
        self.assertTrue(problems(self, b"<gateway>")[0].startswith("not well-formed XML: "))
