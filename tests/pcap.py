"""
A tiny pcap writer for tests: wrap byte payloads in IPv4/TCP packets of one
connection, or in IPv4/UDP datagrams, so that outside dissectors (tshark) can
read what srst encodes.

The connection runs between a "phone" (127.0.0.2) and a "router"
(127.0.0.1) on a given server port; it starts with a three-way handshake and
sequence numbers follow the payloads, so TCP reassembly works.
"""

import socket
import struct

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_RAW = 101
PHONE_ADDRESS = bytes((127, 0, 0, 2))
ROUTER_ADDRESS = bytes((127, 0, 0, 1))
PHONE_PORT = 40000

_SYN = 0x02
_ACK = 0x10
_PSH = 0x08


def _checksum(data):
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack("!%dH" % (len(data) // 2,), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _packet(source, destination, sourcePort, destinationPort, seq, ack,
            flags, payload):
    tcpHeader = struct.pack("!HHIIBBHHH", sourcePort, destinationPort, seq,
                            ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = source + destination + struct.pack(
        "!BBH", 0, 6, len(tcpHeader) + len(payload))
    tcpSum = _checksum(pseudo + tcpHeader + payload)
    tcpHeader = tcpHeader[:16] + struct.pack("!H", tcpSum) + tcpHeader[18:]
    total = 20 + len(tcpHeader) + len(payload)
    ipHeader = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64,
                           6, 0, source, destination)
    ipHeader = ipHeader[:10] + struct.pack("!H", _checksum(ipHeader)) + (
        ipHeader[12:])
    return ipHeader + tcpHeader + payload


def buildPcap(segments, serverPort=2000):
    """
    Build a pcap file holding one TCP connection.

    @param segments: C{(fromPhone, payload)} pairs in order; each payload
        becomes one TCP segment.
    @param serverPort: the router's TCP port (2000 is SCCP's).
    @return: the pcap file contents.
    """
    out = [struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, 65535,
                       LINKTYPE_RAW)]
    phoneSeq, routerSeq = 1000, 5000
    packets = [
        (True, phoneSeq, 0, _SYN, b""),
        (False, routerSeq, phoneSeq + 1, _SYN | _ACK, b""),
        (True, phoneSeq + 1, routerSeq + 1, _ACK, b""),
    ]
    phoneSeq += 1
    routerSeq += 1
    for fromPhone, payload in segments:
        if fromPhone:
            packets.append((True, phoneSeq, routerSeq, _PSH | _ACK, payload))
            phoneSeq += len(payload)
        else:
            packets.append((False, routerSeq, phoneSeq, _PSH | _ACK,
                            payload))
            routerSeq += len(payload)
    for index, (fromPhone, seq, ack, flags, payload) in enumerate(packets):
        if fromPhone:
            packet = _packet(PHONE_ADDRESS, ROUTER_ADDRESS, PHONE_PORT,
                             serverPort, seq, ack, flags, payload)
        else:
            packet = _packet(ROUTER_ADDRESS, PHONE_ADDRESS, serverPort,
                             PHONE_PORT, seq, ack, flags, payload)
        out.append(struct.pack("<IIII", 1700000000 + index, 0, len(packet),
                               len(packet)))
        out.append(packet)
    return b"".join(out)


def udpPacket(source, destination, payload):
    """
    An IPv4/UDP packet (raw IP link type) with correct checksums.

    @param source: C{(address bytes, port)}.
    @param destination: C{(address bytes, port)}.
    @param payload: the datagram.
    @return: the packet bytes.
    """
    length = 8 + len(payload)
    header = struct.pack("!HHHH", source[1], destination[1], length, 0)
    pseudo = source[0] + destination[0] + struct.pack("!BBH", 0, 17, length)
    checksum = _checksum(pseudo + header + payload) or 0xFFFF
    header = header[:6] + struct.pack("!H", checksum)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0x4000, 64,
                     17, 0, source[0], destination[0])
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + header + payload


def buildUdpPcapOf(datagrams):
    """
    A pcap file of UDP datagrams between any two addresses.

    @param datagrams: C{(source, destination, payload)} triples in order,
        each address a C{(dotted IPv4 text, port)} pair as Twisted gives it.
    @return: the file contents.
    """
    out = [struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, 65535, LINKTYPE_RAW)]
    for index, (source, destination, payload) in enumerate(datagrams):
        packet = udpPacket((socket.inet_aton(source[0]), source[1]),
                           (socket.inet_aton(destination[0]), destination[1]), payload)
        out.append(struct.pack("<IIII", 1700000000 + index // 50, (index % 50) * 20000, len(packet), len(packet)))
        out.append(packet)
    return b"".join(out)
