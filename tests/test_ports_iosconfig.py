"""
Tests for L{srst.ports.iosconfig}: the C{voice-port} and C{dial-peer voice}
blocks of C{show running-config}, and their import from IOS text.
"""

from functools import partial

from twisted.trial.unittest import SynchronousTestCase

from srst.configreader import Reader
from srst.ports.config import DialPeer, Signal, VoicePortConfig, readDialPeers, readVoicePorts
from srst.ports.iosconfig import dialPeersConfig, importIos, runningConfig, voicePortsConfig
from tests.ioshelpers import imported


importText = partial(imported, importIos)
"""Import C{text} with L{importIos} (see L{imported})."""


def readBack(document):
    """
    Read an imported document's sections as srst reads router.yaml.

    @return: the voice ports, the dial-peers and the problems found.
    """
    problems = []
    root = Reader(document, "", problems)
    ports = readVoicePorts(root.child("voice-ports"))
    return ports, readDialPeers(root, "dial-peers", ports), problems


class RenderTests(SynchronousTestCase):
    """
    Voice ports and dial-peers as IOS prints them.
    """

    def test_voicePorts(self):
        """
        Each port is a block closed by C{!}; only settings away from IOS's
        defaults are printed (C{timing hookflash-out} 400 is the default).
        """
        ports = [
            VoicePortConfig("1/0/0"),
            VoicePortConfig("1/0/1", stationIdNumber="81236", stationIdName="Front Desk",
                            description="lobby phone"),
            VoicePortConfig("1/1/0", Signal.FXO_LOOP_START, hookflashOutMs=50),
            VoicePortConfig("1/1/1", Signal.FXO_LOOP_START, hookflashOutMs=400, plarNumber="2002"),
        ]
        self.assertEqual(voicePortsConfig(ports), [
            "voice-port 1/0/0", "!",
            "voice-port 1/0/1", " description lobby phone", " station-id name Front Desk",
            " station-id number 81236", "!",
            "voice-port 1/1/0", " timing hookflash-out 50", "!",
            "voice-port 1/1/1", " connection plar 2002", "!",
        ])

    def test_dialPeers(self):
        """
        A dial-peer prints its application, preference, destination-pattern,
        port, forward-digits and prefix, those it has.
        """
        peers = [
            DialPeer(81235, destinationPattern="81235", port="1/1/0", forwardDigits="all",
                     application="mgcpapp"),
            DialPeer(999100, port="1/0/0", application="mgcpapp"),
            DialPeer(7, destinationPattern="9T", port="1/1/0", forwardDigits=4, prefix="9,", preference=2),
        ]
        self.assertEqual(dialPeersConfig(peers), [
            "dial-peer voice 81235 pots", " application mgcpapp", " destination-pattern 81235",
            " port 1/1/0", " forward-digits all", "!",
            "dial-peer voice 999100 pots", " application mgcpapp", " port 1/0/0", "!",
            "dial-peer voice 7 pots", " preference 2", " destination-pattern 9T", " port 1/1/0",
            " forward-digits 4", " prefix 9,", "!",
        ])

    def test_runningConfig(self):
        """
        L{runningConfig} is the voice ports, then the dial-peers; nothing
        when there are none.
        """
        ports = [VoicePortConfig("1/0/0")]
        peers = [DialPeer(1, port="1/0/0")]
        self.assertEqual(runningConfig(ports, peers),
                         ["voice-port 1/0/0", "!", "dial-peer voice 1 pots", " port 1/0/0", "!"])
        self.assertEqual(runningConfig((), ()), [])


class ImportTests(SynchronousTestCase):
    """
    Voice ports and dial-peers read from IOS text.
    """

    def test_voicePorts(self):
        """
        Each block becomes a C{voice-ports:} entry; a port of a module with
        an FXO-only command (C{timing hookflash-out}) is C{fxo-loop-start},
        as are the other ports of that C{slot/subunit}; the rest are FXS.
        """
        document, skipped, rest = importText(
            "voice-port 1/0/0\n signal loop-start\n!\n"
            "voice-port 1/0/1\n station-id name Front Desk\n station-id number 81236\n"
            " description lobby phone\n!\n"
            "voice-port 1/1/0\n timing hookflash-out 50\n!\n"
            "voice-port 1/1/1\n connection plar 2002\n!\n")
        self.assertEqual(document, {"voice-ports": {
            "1/0/0": {"signal": "fxs-loop-start"},
            "1/0/1": {"signal": "fxs-loop-start", "station-id": {"name": "Front Desk", "number": "81236"},
                      "description": "lobby phone"},
            "1/1/0": {"signal": "fxo-loop-start", "timing": {"hookflash-out-ms": 50}},
            "1/1/1": {"signal": "fxo-loop-start", "connection": {"plar": "2002"}},
        }})
        self.assertEqual((skipped, rest), ([], []))

    def test_dialPeers(self):
        """
        Each C{dial-peer voice TAG pots} becomes a C{dial-peers:} entry in
        router.yaml's key order.
        """
        document, skipped, rest = importText(
            "dial-peer voice 81235 pots\n application mgcpapp\n destination-pattern 81235\n"
            " port 1/1/0\n forward-digits all\n!\n"
            "dial-peer voice 7 pots\n preference 2\n destination-pattern 9T\n port 1/1/0\n"
            " forward-digits 4\n prefix 9,\n")
        self.assertEqual(document, {"dial-peers": [
            {"tag": 81235, "type": "pots", "application": "mgcpapp", "destination-pattern": "81235",
             "port": "1/1/0", "forward-digits": "all"},
            {"tag": 7, "type": "pots", "preference": 2, "destination-pattern": "9T", "port": "1/1/0",
             "forward-digits": 4, "prefix": "9,"},
        ]})
        self.assertEqual((skipped, rest), ([], []))

    def test_skipped(self):
        """
        What srst has no key for is listed with the reason, line by line;
        every other top-level line is returned for the next importer.
        """
        document, skipped, rest = importText(
            "voice-port 1/0/0\n"        # 1
            " shutdown\n"               # 2
            " signal ground-start\n"    # 3
            " connection trunk 5000\n"  # 4
            "!\n"
            "dial-peer voice 100 voip\n"           # 6
            " session target ipv4:10.1.1.13\n"     # 7
            "dial-peer voice 101 pots\n"           # 8
            " destination-pattern 555\n"           # 9
            "dial-peer voice 102 pots\n"           # 10
            " description trunk\n"                 # 11
            " port 1/0/0\n"                        # 12
            "ip classless\n")                      # 13
        self.assertEqual(skipped, [
            "line 2: shutdown: srst has no voice-port shutdown",
            "line 3: signal ground-start: srst voice ports are loop-start only",
            "line 4: connection trunk 5000: srst has connection plar <number> only",
            "line 6: dial-peer voice 100 voip: srst has dial-peer voice <tag> pots only (no VoIP dial-peers)",
            "line 7: session target ipv4:10.1.1.13: srst has dial-peer voice <tag> pots only "
            "(no VoIP dial-peers)",
            "line 8: dial-peer voice 101 pots: srst needs a port on a pots dial-peer",
            "line 9: destination-pattern 555: srst needs a port on a pots dial-peer",
            "line 11: description trunk: srst has no dial-peer description",
        ])
        self.assertEqual(rest, ["ip classless"])
        self.assertEqual(document["dial-peers"], [{"tag": 102, "type": "pots", "port": "1/0/0"}])

    def test_notAnalogPort(self):
        """
        Digital, two-part or named voice ports are skipped, block and all.
        """
        document, skipped, rest = importText("voice-port 0/0/0:23\n echo-cancel enable\nvoice-port 0/1\n")
        reason = "srst has analog voice ports slot/subunit/port only (no digital, two-part or named ports)"
        self.assertEqual(skipped, [f"line 1: voice-port 0/0/0:23: {reason}",
                                   f"line 2: echo-cancel enable: {reason}",
                                   f"line 3: voice-port 0/1: {reason}"])
        self.assertEqual((document, rest), ({}, []))

    def test_roundTrip(self):
        """
        What L{runningConfig} prints imports back into the same voice ports
        and dial-peers.
        """
        ports = (
            VoicePortConfig("1/0/0", stationIdNumber="81236", stationIdName="Lobby"),
            VoicePortConfig("1/1/0", Signal.FXO_LOOP_START, hookflashOutMs=50),
            VoicePortConfig("1/1/1", Signal.FXO_LOOP_START, plarNumber="2002", description="trunk 2"),
        )
        peers = (
            DialPeer(81235, destinationPattern="81235", port="1/1/0", forwardDigits="all",
                     application="mgcpapp"),
            DialPeer(7, destinationPattern="9T", port="1/1/1", forwardDigits=4, prefix="9", preference=2),
        )
        document, skipped, rest = importText("\n".join(runningConfig(ports, peers)))
        self.assertEqual(readBack(document), (ports, peers, []))
        self.assertEqual((skipped, rest), ([], []))
