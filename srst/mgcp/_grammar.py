# -*- test-case-name: tests.test_mgcp_messages -*-
"""
Shared pieces of the MGCP text grammar: the codec's exceptions and the
lexical helpers (comma lists that respect brackets, parentheses and quotes,
hex identifiers, integers) used by the parameter, event and SDP parsers.
"""

from __future__ import annotations

import re
from typing import Optional

from srst.mgcp.constants import MAX_IDENTIFIER_LENGTH, ResponseCode


class MgcpDecodeError(ValueError):
    """
    Text that is not a valid MGCP message (or SDP body, or parameter value).

    @ivar code: the response code a gateway should answer with (510
        protocol error, 504 unknown verb, 528 bad version, 539 unsupported
        parameter, 511 unknown critical extension, 505/509 bad SDP, ...).
    @ivar reason: what is wrong, one line; also usable as commentary.
    @ivar transactionId: the message's transaction id when it could be read,
        else C{None} (then the message can only be dropped).
    @ivar isResponse: C{True} when the bad message was a response (never
        answer those), C{False} for a command, C{None} when unknown.
    @ivar parameter: the parameter line name at fault, if any.
    """

    def __init__(self, code: int, reason: str,
                 transactionId: Optional[int] = None,
                 isResponse: Optional[bool] = None,
                 parameter: Optional[str] = None) -> None:
        ValueError.__init__(self, code, reason)
        self.code = code
        self.reason = reason
        self.transactionId = transactionId
        self.isResponse = isResponse
        self.parameter = parameter

    def locate(self, transactionId: Optional[int],
               isResponse: Optional[bool]) -> "MgcpDecodeError":
        """
        Fill in where the error happened, unless already known.

        @param transactionId: the id of the message being decoded.
        @param isResponse: whether that message is a response.
        @return: this error.
        """
        if self.transactionId is None:
            self.transactionId = transactionId
        if self.isResponse is None:
            self.isResponse = isResponse
        return self

    def __str__(self) -> str:
        where = ""
        if self.transactionId is not None:
            where = " (transaction %d)" % (self.transactionId,)
        if self.parameter is not None:
            where += " in %s:" % (self.parameter,)
        return "MGCP decode error %03d%s: %s" % (self.code, where,
                                                 self.reason)


class MgcpEncodeError(ValueError):
    """
    A message or value that cannot be put on the wire as given.

    @ivar reason: what is wrong, one line.
    """

    def __init__(self, reason: str) -> None:
        ValueError.__init__(self, reason)
        self.reason = reason

    def __str__(self) -> str:
        return "cannot encode MGCP: %s" % (self.reason,)


def protocolError(reason: str,
                  code: int = ResponseCode.PROTOCOL_ERROR) -> MgcpDecodeError:
    """
    Build a decode error (510 by default) for a grammar violation.

    @param reason: one line.
    @param code: the response code to answer with.
    @return: the error, to be raised.
    """
    return MgcpDecodeError(int(code), reason)


_OPENERS = {"(": ")", "[": "]"}
_CLOSERS = {")", "]"}


def splitList(text: str, separator: str = ",") -> list[str]:
    """
    Split C{text} at C{separator}s outside parentheses, brackets and
    double quotes, stripping white space around each item.

    An empty (or all white space) C{text} gives an empty list.

    @param text: the value, e.g. C{"L/hu(N), D/[0-9#*](N)"}.
    @param separator: a one-character separator.
    @return: the items.
    @raise MgcpDecodeError: (510) on unbalanced brackets or quotes or an
        empty item.
    """
    if not text.strip():
        return []
    items: list[str] = []
    stack: list[str] = []
    inQuote = False
    start = 0
    for index, char in enumerate(text):
        if inQuote:
            if char == '"':
                inQuote = False
        elif char == '"':
            inQuote = True
        elif char in _OPENERS:
            stack.append(_OPENERS[char])
        elif char in _CLOSERS:
            if not stack or stack.pop() != char:
                raise protocolError("unbalanced %r in %r" % (char, text))
        elif char == separator and not stack:
            items.append(text[start:index].strip())
            start = index + 1
    if inQuote or stack:
        raise protocolError("unterminated bracket or quote in %r" % (text,))
    items.append(text[start:].strip())
    if any(not item for item in items):
        raise protocolError("empty list item in %r" % (text,))
    return items


def splitParenthesised(text: str) -> tuple[str, list[str]]:
    """
    Split C{"name(a)(b)"} into C{("name", ["a", "b"])}.

    @param text: one list item.
    @return: the head and the contents of each parenthesised group.
    @raise MgcpDecodeError: (510) on text after a group that is not a
        group, or unbalanced parentheses.
    """
    head, _, rest = text.partition("(")
    groups: list[str] = []
    if not _:
        return text.strip(), groups
    rest = "(" + rest
    while rest:
        if rest[0] != "(":
            raise protocolError("unexpected %r after ')' in %r"
                                % (rest[0], text))
        depth = 0
        inQuote = False
        for index, char in enumerate(rest):
            if inQuote:
                if char == '"':
                    inQuote = False
            elif char == '"':
                inQuote = True
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    groups.append(rest[1:index])
                    rest = rest[index + 1:].strip()
                    break
        else:
            raise protocolError("unbalanced parentheses in %r" % (text,))
    return head.strip(), groups


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_HEX = re.compile(r"[0-9A-Fa-f]{1,%d}\Z" % (MAX_IDENTIFIER_LENGTH,))
_DIGITS = re.compile(r"[0-9]+\Z")


def parseHexIdentifier(text: str) -> str:
    """
    Check a call id, connection id or request id.

    @param text: the value.
    @return: C{text} stripped, case kept.
    @raise MgcpDecodeError: (510) unless 1-32 hex digits.
    """
    text = text.strip()
    if not _HEX.match(text):
        raise protocolError("not a hex identifier of 1-%d digits: %r"
                            % (MAX_IDENTIFIER_LENGTH, text))
    return text


def parseInteger(text: str, low: int = 0,
                 high: Optional[int] = None) -> int:
    """
    Parse a decimal integer in a range without leaking C{int()} errors.

    @param text: ASCII digits (leading zeros allowed).
    @param low: smallest allowed value.
    @param high: largest allowed value, or C{None} for at most 18 digits.
    @return: the value.
    @raise MgcpDecodeError: (510) on anything else.
    """
    text = text.strip()
    if not _DIGITS.match(text) or len(text) > 18:
        raise protocolError("not a decimal number: %r" % (text,))
    value = int(text)
    if value < low or (high is not None and value > high):
        raise protocolError("%d is outside %d..%s" % (value, low, high))
    return value


def checkText(text: str, what: str) -> str:
    """
    Check that C{text} fits on one line and holds no control character
    other than TAB (the decoder refuses those).

    @param text: a value to encode.
    @param what: what it is, for the error.
    @return: C{text}.
    @raise MgcpEncodeError: if it holds CR, LF or another control character.
    """
    if _CONTROL.search(text):
        raise MgcpEncodeError("%s contains a line break or control "
                              "character: %r" % (what, text))
    return text
