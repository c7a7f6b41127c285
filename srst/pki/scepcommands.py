# -*- test-case-name: tests.test_pki_scepcommands -*-
"""
The SCEP exec command, registered on the admin L{CommandTable} next to
L{srst.pki.commands.registerPkiCommands}:

  - C{crypto pki server <name> password generate [<minutes>]}: a one-time
    enrollment (challenge) password, valid 1-1440 minutes (default 60), as
    IOS prints it for its SCEP server.  A PKCSReq whose CSR carries it is
    granted at once, whatever the grant mode, and the password is spent.
"""

from __future__ import annotations

from srst.admin.commands import CommandError, CommandResult, CommandTable
from srst.pki.scepserver import ChallengePasswords, ScepServer

__all__ = ["registerScepCommands"]


def registerScepCommands(table: CommandTable, scep: ScepServer | None) -> None:
    """
    @param table: the admin command table.
    @param scep: the certificate server's SCEP face, or C{None} when no
        certificate server is configured.
    """

    def generate(name: str, minutes: str | None = None) -> CommandResult:
        if scep is None or scep.ca.name != name:
            configured = scep.ca.name if scep is not None else "none"
            raise CommandError(f"Certificate server {name} is not configured (configured: {configured})")
        try:
            lifetime = ChallengePasswords.DEFAULT_MINUTES if minutes is None else int(minutes, 10)
            password = scep.passwords.generate(lifetime)
        except ValueError:
            raise CommandError(f"Invalid lifetime {minutes!r}: the password lifetime is 1-"
                               f"{ChallengePasswords.MAX_MINUTES} minutes") from None
        return CommandResult(f"% New one-time password for the next enrollment (valid {lifetime} minutes):"
                             f"\n{password}", {"password": password, "minutes": lifetime})

    table.add("crypto pki server <name> password generate [<minutes>]", generate,
              "one-time SCEP enrollment password (1-1440 minutes, default 60)")
