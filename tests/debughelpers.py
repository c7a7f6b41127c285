"""
The seed's C{debug ephone} samples (tests/fixtures/seed/debug-ephone.txt)
and the normalisation that lets a test compare srst's debug lines with
them line by line: only values (times, addresses, ports, process ids,
socket numbers, call references, MACs) are replaced; every word stays.
"""

from __future__ import annotations

import os
import re

SEED_DEBUG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "seed", "debug-ephone.txt")

_VALUES = [
    # *Jan 11 18:33:11.747: -- IOS prints a space after the colon in one sample and not in the other.
    (re.compile(r"^\*[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d\.\d{3}: ?"), "*<time>:"),
    (re.compile(r"\b(\d{1,3}\.){3}\d{1,3}\b"), "<ip>"),
    (re.compile(r"\b(ephone-\d+)\[\d+\]"), r"\1[<socket>]"),
    (re.compile(r"\[SEP[0-9A-F]{12}\]"), "[SEP<mac>]"),
    (re.compile(r"\bref \d+"), "ref <ref>"),
    (re.compile(r"\b(pid ?=)\d+"), r"\1<pid>"),
    (re.compile(r"(sin_port |port=|sock=|sessions = )\d+"), r"\1<n>"),
    (re.compile(r"(accepted) \[\d+\] \(\d+ active\)"), r"\1 [<n>] (<n> active)"),
    (re.compile(r"(Start TLS Handshake) \d+ <ip> \d+"), r"\1 <n> <ip> <n>"),
    # SetCallState's DN 4(4) / DN 4(-1): an index IOS keeps for the channel.
    (re.compile(r"\b(DN \d+)\(-?\d+\)"), r"\1(<index>)"),
]


def normalise(line: str) -> str:
    """
    @param line: a debug line as C{srst-cli debug} shows it.
    @return: the line with its values replaced by placeholders and trailing
        blanks dropped.
    """
    line = line.rstrip()
    for pattern, replacement in _VALUES:
        line = pattern.sub(replacement, line)
    return line


def seedSample(command: str) -> list[str]:
    """
    The debug lines the seed shows after C{Router#<command>}: wrapped
    continuation lines joined, C{!} comment lines and the
    C{%SYS-5-CONFIG_I} line dropped.

    @param command: C{"debug ephone register"} or C{"debug ephone state"}.
    @return: the lines, as printed (not normalised).
    """
    with open(SEED_DEBUG, encoding="utf-8") as f:
        text = f.read().splitlines()
    start = [i for i, line in enumerate(text) if line.strip() == "Router#" + command][0]
    lines: list[str] = []
    for line in text[start + 1:]:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if not stripped or stripped.startswith("!"):
            continue
        if stripped.startswith("*"):
            lines.append(stripped)
        elif lines and indent > 4:
            lines[-1] = lines[-1].rstrip() + " " + stripped
        elif lines:
            break
    return [line.rstrip() for line in lines if "%SYS-5-CONFIG_I" not in line]
