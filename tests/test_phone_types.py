"""
Tests for L{srst.tools._phonetypes}: the simulated phone's value types.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.sccp.constants import DeviceType
from srst.tools._phonetypes import PhoneConfig, UnknownModelError, deviceTypeForModel


class DeviceTypeTests(SynchronousTestCase):
    """
    Phone model names map to Register.deviceType (sccp.md 2.6).
    """

    def test_models(self):
        """Model numbers, member names and numbers are all accepted."""
        self.assertEqual(deviceTypeForModel("7970"), 30006)
        self.assertIs(deviceTypeForModel("7970"), DeviceType.PHONE_7970)
        self.assertEqual(deviceTypeForModel("7961-ge"), 308)
        self.assertEqual(deviceTypeForModel("ip_communicator"), 30016)
        self.assertEqual(deviceTypeForModel("30007"), DeviceType.PHONE_7912)
        self.assertEqual(deviceTypeForModel("4242"), 4242)

    def test_unknown(self):
        """An unknown model raises UnknownModelError listing the known ones."""
        e = self.assertRaises(UnknownModelError, deviceTypeForModel, "9999x")
        self.assertIn("'9999x'", str(e))
        self.assertIn("7970", str(e))
        self.assertRaises(UnknownModelError, deviceTypeForModel, "0")

    def test_configMac(self):
        """PhoneConfig normalizes its MAC and derives the device name."""
        config = PhoneConfig(mac="00:11:22:33:44:aa")
        self.assertEqual(config.mac, "0011223344AA")
        self.assertEqual(config.deviceName, "SEP0011223344AA")
