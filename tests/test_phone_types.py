"""
Tests for L{srst.tools._phonetypes}: the simulated phone's value types.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.sccp import messages as m
from srst.sccp.constants import DeviceType, Stimulus
from srst.tools._phonetypes import (
    PhoneConfig,
    PhoneSettings,
    UnknownModelError,
    deviceTypeForModel,
)


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


class PhoneSettingsTests(SynchronousTestCase):
    """
    L{PhoneSettings} keeps what the router told the phone.
    """

    def test_record(self):
        """Each configuration message is kept where it belongs; the button template gives the lines and speed dials."""
        settings = PhoneSettings()
        buttons = (m.ButtonDefinition(1, Stimulus.LINE), m.ButtonDefinition(1, Stimulus.SPEED_DIAL),
                   m.ButtonDefinition(2, Stimulus.LINE))
        messages = [
            m.ButtonTemplate(buttons=buttons),
            m.LineStat(lineNumber=2, lineDirNumber="1002"),
            m.ForwardStat(lineNumber=2),
            m.SpeedDialStat(speedDialNumber=1, speedDialDirNumber="2000"),
            m.SoftKeyTemplateRes(softKeys=[]),
            m.SoftKeySetRes(softKeySets=[]),
            m.ConfigStat(deviceName="SEP001122334455", numberOfLines=2),
            m.DefineTimeDate(year=2030),
            m.DisplayPromptStatus(promptStatus="CM Fallback Service Operating"),
            m.SelectSoftKeys(softKeySetIndex=3),
        ]
        for msg in messages:
            settings.record(msg)
        self.assertEqual((settings.buttons, settings.lines, settings.speedDials), (buttons, [1, 2], [1]))
        self.assertEqual((settings.lineStats, settings.forwardStats, settings.speedDialStats),
                         ({2: messages[1]}, {2: messages[2]}, {1: messages[3]}))
        self.assertEqual((settings.softKeyTemplate, settings.softKeySets, settings.configStat, settings.timeDate),
                         tuple(messages[4:8]))
        self.assertEqual((settings.prompt, settings.softKeySet), ("CM Fallback Service Operating", 3))

    def test_othersIgnored(self):
        """A message that carries no setting changes nothing."""
        settings = PhoneSettings()
        settings.record(m.KeepAliveAck())
        self.assertEqual(settings, PhoneSettings())
