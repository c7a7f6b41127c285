# -*- test-case-name: tests.test_tftp_codec -*-
"""
The RFC 1350 packet codec.
"""

from twisted.trial.unittest import SynchronousTestCase

from srst.tftp.codec import Ack, Data, Error, ReadRequest, TftpDecodeError, WriteRequest, decode, encode, toNetascii


class CodecTests(SynchronousTestCase):
    """
    L{decode} and L{encode}.
    """

    def test_readRequestBytes(self) -> None:
        """
        An RRQ is opcode 1, filename, NUL, mode, NUL (RFC 1350 figure 5-1);
        the mode is read without regard to case, option fields are ignored.
        """
        self.assertEqual(encode(ReadRequest("gw.cnf.xml")), b"\x00\x01gw.cnf.xml\x00octet\x00")
        self.assertEqual(decode(b"\x00\x01gw.cnf.xml\x00OCTET\x00blksize\x001428\x00"),
                         ReadRequest("gw.cnf.xml", "octet"))

    def test_roundTrip(self) -> None:
        """
        Every packet decodes to what was encoded.
        """
        for packet in (WriteRequest("x", "netascii"), Data(65535, b"a" * 512), Data(1, b""), Ack(0),
                       Error(1, "File not found")):
            self.assertEqual(decode(encode(packet)), packet)

    def test_refused(self) -> None:
        """
        Each malformed packet is refused with the reason.
        """
        cases = [
            (b"\x00\x03", "2-byte datagram is shorter than any TFTP packet"),
            (b"\x00\x03\x00\x01" + b"a" * 513, "DATA block 1 has 513 bytes (at most 512)"),
            (b"\x00\x01x\x00mail\x00", "transfer mode 'mail' is not netascii or octet"),
            (b"\x00\x05\x00\x01oops", "ERROR message is not NUL-terminated"),
            (b"\x00\x09\x00\x00", "unknown opcode 9"),
        ]
        for datagram, reason in cases:
            self.assertEqual(str(self.assertRaises(TftpDecodeError, decode, datagram)), reason)

    def test_netascii(self) -> None:
        """
        netascii line ends are CR LF, a bare CR is CR NUL.
        """
        self.assertEqual(toNetascii(b"a\nb\rc"), b"a\r\nb\r\0c")
