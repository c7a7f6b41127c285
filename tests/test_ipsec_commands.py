"""
Tests for L{srst.ipsec.commands}: the IOS layouts, from a C{list-sas} event
recorded from charon 5.9.8 (two charons in network namespaces, the seed's
crypto map with a modern transform set).
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from srst.config import loadString
from srst.ipsec.commands import ident, ipsecEntries, renderCryptoMap, renderIpsecSa, renderIsakmpSa
from srst.ipsec.plan import connectionsFor
from tests.test_ipsec_config import crypto, document
from tests.test_ipsec_plan import TWO_LINES


def configured() -> Any:
    """
    The seed's crypto map entry as srst builds it from router.yaml (the
    map applied to FastEthernet0/0), for the renderers.
    """
    section = crypto(maps={"rtp": {"interface-address": "10.1.1.22", "interface": "FastEthernet0/0", "entries": [
        {"sequence": 1, "peer": "10.1.1.13", "transform-set": "rtpset", "match-address": 116}]}})
    config = loadString(document(section))
    [connection] = connectionsFor(config.crypto, config.accessLists)
    return connection


SEED = configured()

RECORDED: list[dict[str, Any]] = [{"rtp-1": {
    "uniqueid": "1", "version": "1", "state": "ESTABLISHED", "local-host": "10.1.1.22", "local-port": "4500",
    "local-id": "10.1.1.22", "remote-host": "10.1.1.13", "remote-port": "4500", "remote-id": "10.1.1.13",
    "initiator": "yes", "initiator-spi": "194bde7ea6bb0357", "responder-spi": "3648d15f25cb5a9a",
    "nat-remote": "yes", "nat-any": "yes", "encr-alg": "AES_CBC", "encr-keysize": "128",
    "integ-alg": "HMAC_SHA2_256_128", "prf-alg": "PRF_HMAC_SHA2_256", "dh-group": "MODP_2048",
    "established": "0", "rekey-time": "13123",
    "child-sas": {"rtp-1-1": {
        "name": "rtp-1", "uniqueid": "1", "reqid": "1", "state": "INSTALLED", "mode": "TUNNEL",
        "protocol": "ESP", "encap": "yes", "spi-in": "e25bf93c", "spi-out": "a5322d3a", "encr-alg": "AES_CBC",
        "encr-keysize": "128", "integ-alg": "HMAC_SHA2_256_128", "bytes-in": "960", "packets-in": "6",
        "bytes-out": "3048", "packets-out": "8", "use-out": "0", "rekey-time": "3361", "life-time": "3960",
        "install-time": "0", "local-ts": ["10.1.1.22/32"], "remote-ts": ["10.1.1.13/32"]}}}}]

CONNECTING: list[dict[str, Any]] = [{"rtp-1": {
    "uniqueid": "2", "version": "1", "state": "CONNECTING", "local-host": "10.1.1.22", "local-port": "500",
    "local-id": "%any", "remote-host": "10.1.1.13", "remote-port": "500", "remote-id": "%any",
    "initiator": "yes", "initiator-spi": "ba4535e39210fa41", "responder-spi": "0000000000000000",
    "tasks-queued": ["QUICK_MODE"], "tasks-active": ["MAIN_MODE"], "child-sas": {}}}]


class IsakmpTests(SynchronousTestCase):
    def test_established(self) -> None:
        """
        An established IKEv1 SA is QM_IDLE and ACTIVE, dst the peer.
        """
        self.assertEqual(renderIsakmpSa(RECORDED), "\n".join([
            "IPv4 Crypto ISAKMP SA",
            "dst             src             state          conn-id status",
            "10.1.1.13       10.1.1.22       QM_IDLE              1 ACTIVE",
            "",
            "IPv6 Crypto ISAKMP SA",
            ""]))

    def test_negotiating(self) -> None:
        """
        An SA still in main mode is MM_NO_STATE.
        """
        self.assertIn("10.1.1.13       10.1.1.22       MM_NO_STATE          2 ACTIVE", renderIsakmpSa(CONNECTING))


class IpsecSaTests(SynchronousTestCase):
    def test_established(self) -> None:
        """
        The seed's entry with its SA: idents from the ACL, counters, SPIs in
        IOS's hex(decimal) form, the transform in IOS words.
        """
        spiIn = "      spi: 0xE25BF93C(3797678396)"
        spiOut = "      spi: 0xA5322D3A(2771529018)"
        sa = ["        transform: esp-aes esp-sha256-hmac ,",
              "        in use settings ={Tunnel, }",
              "        conn id: 1, crypto map: rtp",
              "        sa timing: remaining key lifetime (sec): (3960)",
              "        Status: ACTIVE"]
        self.assertEqual(renderIpsecSa([SEED], RECORDED), "\n".join([
            "",
            "interface: FastEthernet0/0",
            "    Crypto map tag: rtp, local addr 10.1.1.22",
            "",
            "   protected vrf: (none)",
            "   local  ident (addr/mask/prot/port): (10.1.1.22/255.255.255.255/0/0)",
            "   remote ident (addr/mask/prot/port): (10.1.1.13/255.255.255.255/0/0)",
            "   current_peer 10.1.1.13 port 4500",
            "     PERMIT, flags={origin_is_acl,}",
            "    #pkts encaps: 8, #pkts encrypt: 8, #pkts digest: 8",
            "    #pkts decaps: 6, #pkts decrypt: 6, #pkts verify: 6",
            "    #pkts compressed: 0, #pkts decompressed: 0",
            "    #pkts not compressed: 0, #pkts compr. failed: 0",
            "    #pkts not decompressed: 0, #pkts decompress failed: 0",
            "",
            "     local crypto endpt.: 10.1.1.22, remote crypto endpt.: 10.1.1.13",
            "     current outbound spi: 0xA5322D3A(2771529018)",
            "",
            "     inbound esp sas:", spiIn, *sa,
            "", "     inbound ah sas:", "", "     inbound pcp sas:", "",
            "     outbound esp sas:", spiOut, *sa,
            "", "     outbound ah sas:", "", "     outbound pcp sas:", ""]))

    def test_noSa(self) -> None:
        """
        An entry without SA shows zero counters and no SPI, as IOS does.
        """
        text = renderIpsecSa([SEED], CONNECTING)
        self.assertIn("    #pkts encaps: 0, #pkts encrypt: 0, #pkts digest: 0", text)
        self.assertIn("     current outbound spi: 0x0(0)\n\n     inbound esp sas:\n\n     inbound ah sas:", text)

    def test_onePairPerLine(self) -> None:
        """
        An access list of two permit lines is two flows, each with its own
        idents, counters and SAs (the second line's CHILD_SA C{rtp-1-2}).
        """
        config = loadString(document(crypto(), TWO_LINES))
        [connection] = connectionsFor(config.crypto, config.accessLists)
        child = RECORDED[0]["rtp-1"]["child-sas"]["rtp-1-1"]
        sas = [{"rtp-1": {**RECORDED[0]["rtp-1"], "child-sas": {
            "rtp-1-2-7": {**child, "name": "rtp-1-2", "uniqueid": "7", "packets-out": "3", "packets-in": "2"}}}}]
        text = renderIpsecSa([connection], sas)
        blocks = text.split("   protected vrf: (none)\n")
        self.assertEqual(len(blocks), 3, text)
        self.assertTrue(blocks[1].startswith(
            "   local  ident (addr/mask/prot/port): (10.1.1.22/255.255.255.255/17/0)\n"
            "   remote ident (addr/mask/prot/port): (10.1.1.13/255.255.255.255/17/2427)\n"), text)
        self.assertIn("    #pkts encaps: 0,", blocks[1])
        self.assertNotIn("conn id:", blocks[1])
        self.assertTrue(blocks[2].startswith(
            "   local  ident (addr/mask/prot/port): (10.1.2.0/255.255.255.0/0/0)\n"
            "   remote ident (addr/mask/prot/port): (10.1.3.0/255.255.255.0/0/0)\n"), text)
        self.assertIn("    #pkts encaps: 3, #pkts encrypt: 3, #pkts digest: 3", blocks[2])
        self.assertIn("        conn id: 7, crypto map: rtp", blocks[2])
        [entry] = ipsecEntries([connection], sas)
        self.assertEqual([(flow["child"], flow["encaps"], len(flow["sas"])) for flow in entry["flows"]],
                         [("rtp-1", 0, 0), ("rtp-1-2", 3, 1)])

    def test_ident(self) -> None:
        """
        A port-restricted selector shows its protocol number and port.
        """
        self.assertEqual(ident("10.1.1.0/24[udp/2427]"), "(10.1.1.0/255.255.255.0/17/2427)")


class CryptoMapTests(SynchronousTestCase):
    def test_seed(self) -> None:
        """
        The seed's crypto map in IOS's layout.
        """
        self.assertEqual(renderCryptoMap([SEED]), "\n".join([
            "",
            'Crypto Map "rtp" 1 ipsec-isakmp',
            "        Peer = 10.1.1.13",
            "        Extended IP access list 116",
            "            access-list 116 permit ip host 10.1.1.22 host 10.1.1.13",
            "        Current peer: 10.1.1.13",
            "        Security association lifetime: 3600 seconds",
            "        PFS (Y/N): N",
            "        Transform sets={ ",
            "                rtpset, ",
            "        }",
            "        Interfaces using crypto map rtp:",
            "                FastEthernet0/0"]))


class DebugLineTests(SynchronousTestCase):
    def test_logEvent(self) -> None:
        """
        charon's log event becomes a C{debug crypto isakmp} line naming the
        IKE_SA.
        """
        from srst.ipsec.service import isakmpDebugLine
        self.assertEqual(
            isakmpDebugLine("log", {"group": "IKE", "level": "0", "ikesa-name": "rtp-1", "ikesa-uniqueid": "1",
                                    "msg": "initiating Main Mode IKE_SA rtp-1[1] to 10.1.1.13"}),
            "ISAKMP (rtp-1[1]): initiating Main Mode IKE_SA rtp-1[1] to 10.1.1.13")
        self.assertEqual(isakmpDebugLine("ike-updown", {"up": "yes", "rtp-1": {}}), "ISAKMP: IKE SA rtp-1 up")
