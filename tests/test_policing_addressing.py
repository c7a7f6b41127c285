"""
Tests for L{srst.policing.addressing}: a peer's source address and the
destination port, as access lists see them.
"""

from __future__ import annotations

import ipaddress

from twisted.internet.address import IPv6Address, UNIXAddress
from twisted.trial.unittest import SynchronousTestCase

from srst.policing.addressing import sourceAddressOf
from tests.policinghelpers import peer


class SourceAddressTests(SynchronousTestCase):
    """
    L{sourceAddressOf}.
    """

    def test_kinds(self):
        """
        TCP addresses and UDP tuples give their host; UNIX sockets and
        unparsable hosts give C{None}.
        """
        self.assertEqual(sourceAddressOf(peer("10.1.1.13")), ipaddress.ip_address("10.1.1.13"))
        self.assertEqual(sourceAddressOf(IPv6Address("TCP", "::ffff:10.1.1.13", 1)),
                         ipaddress.ip_address("10.1.1.13"))
        self.assertEqual(sourceAddressOf(("127.0.0.2", 2427)), ipaddress.ip_address("127.0.0.2"))
        self.assertIsNone(sourceAddressOf(UNIXAddress(b"/tmp/sock")))
        self.assertIsNone(sourceAddressOf(("not-an-address", 1)))
        self.assertIsNone(sourceAddressOf(None))
