"""
Multicast on the loopback interface only, for the tests of multicast music
on hold.

Senders set C{IP_MULTICAST_IF=127.0.0.1}, C{IP_MULTICAST_LOOP=1} and
C{IP_MULTICAST_TTL=0}: a datagram is then delivered by the local loop only
and never leaves the host, whatever the routes.  Receivers bind the group
and join it on 127.0.0.1.  No other interface is ever named.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import subprocess
from typing import Callable

LOOPBACK = "127.0.0.1"
TEST_GROUPS = "239.255.0.0/16"
SKIP_REASON = "multicast on lo unavailable (needs root to route 239.255.0.0/16 via lo)"


def randomGroup() -> str:
    """@return: a random group in 239.255.0.0/16 (administratively scoped)."""
    return "239.255.%d.%d" % (random.randrange(256), random.randrange(1, 255))


def _probe() -> bool:
    group = randomGroup()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        receiver.bind((group, 0))
        port = receiver.getsockname()[1]
        receiver.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                            socket.inet_aton(group) + socket.inet_aton(LOOPBACK))
        receiver.settimeout(1.0)
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("B", 0))
        sender.sendto(b"probe", (group, port))
        return receiver.recv(16) == b"probe"
    except OSError:
        return False
    finally:
        receiver.close()
        sender.close()


def loopbackMulticast(addCleanup: Callable[..., object]) -> str | None:
    """
    Make sure multicast works on lo with the options above: as root, when
    the probe fails, route L{TEST_GROUPS} via lo for the test (removed by
    C{addCleanup}).

    @return: L{None}, or the reason to skip the test.
    """
    if _probe():
        return None
    if os.geteuid() != 0:
        return SKIP_REASON
    added = subprocess.run(["ip", "route", "add", TEST_GROUPS, "dev", "lo"],
                           capture_output=True).returncode == 0
    if added:
        addCleanup(subprocess.run, ["ip", "route", "del", TEST_GROUPS, "dev", "lo"], capture_output=True)
    return None if _probe() else SKIP_REASON
