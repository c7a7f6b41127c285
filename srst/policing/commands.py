# -*- test-case-name: tests.test_policing_commands -*-
"""
C{show policy-map control-plane}: the IOS rendering of L{PolicyStats} and
its registration on the admin L{CommandTable}.

The layout follows IOS's C{show policy-map control-plane} / C{show
policy-map interface} output for a single-rate, two-colour policer::

     Control Plane

      Service-policy input: control-plane-policy

        Class-map: sccp-class (match-all)
          500 packets, 30000 bytes
          5 minute offered rate 0 bps, drop rate 0 bps
          Match: access-group 140
          police:
              cir 8000 bps, bc 1500 bytes, be 1500 bytes
            conformed 25 packets, 1500 bytes; actions:
              drop
            exceeded 475 packets, 28500 bytes; actions:
              drop
            conformed 0 bps, exceed 0 bps

        Class-map: class-default (match-any)
          0 packets, 0 bytes
          5 minute offered rate 0 bps, drop rate 0 bps
          Match: any
"""

from __future__ import annotations

from srst.admin.commands import CommandResult, CommandTable
from srst.policing.meter import ClassStats, ControlPlane, PolicyStats


def _renderClass(stats: ClassStats) -> list[str]:
    lines = [
        f"    Class-map: {stats.name} ({stats.matchType})",
        f"      {stats.packets} packets, {stats.bytes} bytes",
        f"      5 minute offered rate {stats.offeredRateBps} bps, drop rate {stats.dropRateBps} bps",
        f"      Match: {stats.match}",
    ]
    if stats.police is not None:
        p = stats.police
        lines += [
            "      police:",
            f"          cir {p.police.rateBps} bps, bc {p.police.normalBurst} bytes, be {p.police.maxBurst} bytes",
            f"        conformed {p.conformedPackets} packets, {p.conformedBytes} bytes; actions:",
            f"          {p.police.conformAction}",
            f"        exceeded {p.exceededPackets} packets, {p.exceededBytes} bytes; actions:",
            f"          {p.police.exceedAction}",
            f"        conformed {p.conformRateBps} bps, exceed {p.exceedRateBps} bps",
        ]
    return lines


def renderPolicyMap(stats: PolicyStats) -> str:
    """
    Render C{show policy-map control-plane}.

    @param stats: the L{PolicyStats} snapshot.
    @return: the IOS text, lines joined with C{"\\n"}.
    """
    lines = [" Control Plane", "", f"  Service-policy input: {stats.name}"]
    for classStats in stats.classes:
        lines.append("")
        lines.extend(_renderClass(classStats))
    return "\n".join(lines)


def registerPolicingCommands(table: CommandTable, controlPlane: ControlPlane) -> None:
    """
    Register C{show policy-map control-plane} on C{table}.  Its C{data} is
    L{PolicyStats.asDict}: the same counters, for C{srst-cli --json}.

    @param table: the admin L{CommandTable}.
    @param controlPlane: the router's L{ControlPlane}.
    """

    def showPolicyMap() -> CommandResult:
        stats = controlPlane.stats()
        return CommandResult(renderPolicyMap(stats), stats.asDict())

    table.add("show policy-map control-plane", showPolicyMap, "control-plane policing counters")
