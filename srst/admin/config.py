# -*- test-case-name: tests.test_admin_config -*-
"""
The C{admin:} section of router.yaml: where the admin socket that
C{srst-cli} talks to is.
"""

from __future__ import annotations

import os

from attrs import frozen

from srst.configreader import Reader


@frozen
class AdminConfig:
    """
    The admin socket C{srst-cli} talks to.
    """

    socket: str = "var/srst.sock"


def readAdmin(admin: Reader, stateDir: str) -> AdminConfig:
    """
    Validate C{admin:}.

    @param admin: the reader of the section.
    @param stateDir: the router's state directory, where the socket is
        unless C{socket} says otherwise.
    @return: the L{AdminConfig}.
    """
    config = AdminConfig(socket=admin.string("socket", os.path.join(stateDir, "srst.sock")))
    admin.finish()
    return config
