# -*- test-case-name: tests.test_mgcp_messages -*-
"""
MGCP (RFC 3435) wire constants: ports, limits, verbs, response codes with
their conventional texts, reason codes, connection modes, restart methods,
quarantine handling keywords and requested-event actions.

Values follow C{docs/mgcp.md} (sections 1, 2, 5.2, 6.10, 7 and 8).  Keyword
sets are L{enum.StrEnum}s whose values are the canonical wire spelling
(upper case verbs, lower case keywords); input is case-insensitive, so look
keywords up with the C{lookup} class methods, which return C{None} for
values outside the set.
"""

from __future__ import annotations

import enum
from typing import Optional

GATEWAY_PORT = 2427
"""UDP port a media gateway listens on (and CallManager's call agent too)."""

CALL_AGENT_PORT = 2727
"""UDP port of a generic (RFC 3435) call agent."""

MAX_TRANSACTION_ID = 999999999
"""Transaction ids run from 1 to this value (at most 9 digits)."""

MAX_MESSAGE_SIZE = 4096
"""
The largest datagram (and so the largest single message) the codec accepts,
in bytes.  MGCP does not negotiate a size by default and peers assume 1500;
anything past 4096 bytes is refused with a 510 decode error.
"""

MAX_IDENTIFIER_LENGTH = 32
"""Call ids, connection ids and request ids are 1 to 32 hex digits."""


class _Keyword(enum.StrEnum):
    """A case-insensitive wire keyword set."""

    @classmethod
    def lookup(cls, text: str) -> Optional["_Keyword"]:
        """
        Find the member spelled C{text}, ignoring case.

        @param text: the keyword as received.
        @return: the member, or C{None} when C{text} is not in the set.
        """
        folded = text.strip().lower()
        for member in cls:
            if member.value.lower() == folded:
                return member
        return None


class Verb(_Keyword):
    """MGCP command verbs (mgcp.md 2.1); always four characters."""

    EPCF = "EPCF"
    CRCX = "CRCX"
    MDCX = "MDCX"
    DLCX = "DLCX"
    RQNT = "RQNT"
    NTFY = "NTFY"
    AUEP = "AUEP"
    AUCX = "AUCX"
    RSIP = "RSIP"
    MESG = "MESG"


class ResponseCode(enum.IntEnum):
    """MGCP response codes (mgcp.md 8); 800-899 are package specific."""

    RESPONSE_ACK = 0
    EXECUTING = 100
    QUEUED = 101
    OK = 200
    CONNECTION_DELETED = 250
    TRANSIENT_ERROR = 400
    ALREADY_OFF_HOOK = 401
    ALREADY_ON_HOOK = 402
    NO_RESOURCES_NOW = 403
    INSUFFICIENT_BANDWIDTH_NOW = 404
    ENDPOINT_RESTARTING_TRANSIENT = 405
    TRANSACTION_TIMEOUT = 406
    ABORTED = 407
    OVERLOAD = 409
    NO_ENDPOINT_AVAILABLE = 410
    UNKNOWN_ENDPOINT = 500
    ENDPOINT_NOT_READY = 501
    INSUFFICIENT_RESOURCES = 502
    WILDCARD_TOO_COMPLICATED = 503
    UNKNOWN_COMMAND = 504
    UNSUPPORTED_REMOTE_DESCRIPTOR = 505
    LCO_RCD_CONFLICT = 506
    UNSUPPORTED_FUNCTIONALITY = 507
    UNKNOWN_QUARANTINE_HANDLING = 508
    REMOTE_DESCRIPTOR_ERROR = 509
    PROTOCOL_ERROR = 510
    UNRECOGNIZED_EXTENSION = 511
    CANNOT_DETECT_EVENT = 512
    CANNOT_GENERATE_SIGNAL = 513
    CANNOT_SEND_ANNOUNCEMENT = 514
    INCORRECT_CONNECTION_ID = 515
    UNKNOWN_CALL_ID = 516
    UNSUPPORTED_MODE = 517
    UNSUPPORTED_PACKAGE = 518
    NO_DIGIT_MAP = 519
    ENDPOINT_RESTARTING = 520
    ENDPOINT_REDIRECTED = 521
    NO_SUCH_EVENT_OR_SIGNAL = 522
    UNKNOWN_ACTION = 523
    LCO_INCONSISTENCY = 524
    UNKNOWN_LCO_EXTENSION = 525
    INSUFFICIENT_BANDWIDTH = 526
    MISSING_REMOTE_DESCRIPTOR = 527
    INCOMPATIBLE_PROTOCOL_VERSION = 528
    HARDWARE_FAILURE = 529
    CAS_PROTOCOL_ERROR = 530
    TRUNK_GROUP_FAILURE = 531
    UNSUPPORTED_LCO_VALUE = 532
    RESPONSE_TOO_LARGE = 533
    CODEC_NEGOTIATION_FAILURE = 534
    PACKETIZATION_NOT_SUPPORTED = 535
    UNKNOWN_RESTART_METHOD = 536
    UNKNOWN_DIGIT_MAP_EXTENSION = 537
    EVENT_PARAMETER_ERROR = 538
    UNSUPPORTED_PARAMETER = 539
    CONNECTION_LIMIT_EXCEEDED = 540
    INVALID_LCO = 541

    @property
    def text(self) -> str:
        """
        The conventional commentary sent with this code.
        """
        return RESPONSE_TEXTS[self]


RESPONSE_TEXTS: dict[int, str] = {
    0: "OK",
    100: "Transaction being executed",
    101: "Transaction queued",
    200: "OK",
    250: "OK",
    400: "Transient error",
    401: "Phone already off hook",
    402: "Phone already on hook",
    403: "No resources now",
    404: "Insufficient bandwidth now",
    405: "Endpoint restarting",
    406: "Transaction timeout",
    407: "Transaction aborted",
    409: "Overload",
    410: "No endpoint available",
    500: "Unknown endpoint",
    501: "Endpoint not ready",
    502: "Insufficient resources",
    503: "All of wildcard too complicated",
    504: "Unknown or unsupported command",
    505: "Unsupported RemoteConnectionDescriptor",
    506: "LocalConnectionOptions and RemoteConnectionDescriptor conflict",
    507: "Unsupported functionality",
    508: "Unknown or unsupported quarantine handling",
    509: "Error in RemoteConnectionDescriptor",
    510: "Protocol error",
    511: "Unrecognized extension",
    512: "Cannot detect event",
    513: "Cannot generate signal",
    514: "Cannot send announcement",
    515: "Incorrect connection-id",
    516: "Unknown call-id",
    517: "Unsupported or invalid mode",
    518: "Unsupported or unknown package",
    519: "Endpoint does not have a digit map",
    520: "Endpoint is restarting",
    521: "Endpoint redirected to another Call Agent",
    522: "No such event or signal",
    523: "Unknown action or illegal combination of actions",
    524: "Internal inconsistency in LocalConnectionOptions",
    525: "Unknown extension in LocalConnectionOptions",
    526: "Insufficient bandwidth",
    527: "Missing RemoteConnectionDescriptor",
    528: "Incompatible protocol version",
    529: "Internal hardware failure",
    530: "CAS signaling protocol error",
    531: "Failure of a grouping of trunks",
    532: "Unsupported value(s) in LocalConnectionOptions",
    533: "Response too large",
    534: "Codec negotiation failure",
    535: "Packetization period not supported",
    536: "Unknown or unsupported RestartMethod",
    537: "Unknown or unsupported digit map extension",
    538: "Event/signal parameter error",
    539: "Invalid or unsupported command parameter",
    540: "Per endpoint connection limit exceeded",
    541: "Invalid or unsupported LocalConnectionOptions",
}


def responseText(code: int) -> str:
    """
    The conventional commentary for a response code.

    @param code: any code 0-999.
    @return: the text of mgcp.md section 8, C{"Package specific"} for
        8xx codes and C{"Response"} for codes without one.
    """
    if code in RESPONSE_TEXTS:
        return RESPONSE_TEXTS[code]
    if 800 <= code <= 899:
        return "Package specific"
    return "Response"


class ReasonCode(enum.IntEnum):
    """Reason codes carried in C{E:} (mgcp.md 8)."""

    NORMAL = 0
    ENDPOINT_MALFUNCTIONING = 900
    ENDPOINT_OUT_OF_SERVICE = 901
    LOSS_OF_LOWER_LAYER_CONNECTIVITY = 902
    QOS_RESERVATION_LOST = 903
    MANUAL_INTERVENTION = 904
    FACILITY_FAILURE = 905


REASON_TEXTS: dict[int, str] = {
    0: "Endpoint state is normal",
    900: "Endpoint malfunctioning",
    901: "Endpoint taken out of service",
    902: "Loss of lower layer connectivity",
    903: "QoS resource reservation was lost",
    904: "Manual intervention",
    905: "Facility failure",
}


class ConnectionMode(_Keyword):
    """Connection modes of C{M:} (mgcp.md 6.10)."""

    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    SENDRECV = "sendrecv"
    CONFRNCE = "confrnce"
    INACTIVE = "inactive"
    LOOPBACK = "loopback"
    CONTTEST = "conttest"
    NETWLOOP = "netwloop"
    NETWTEST = "netwtest"


class RestartMethod(_Keyword):
    """Restart methods of C{RM:} (mgcp.md 5.2)."""

    GRACEFUL = "graceful"
    FORCED = "forced"
    RESTART = "restart"
    DISCONNECTED = "disconnected"
    CANCEL_GRACEFUL = "cancel-graceful"


class QuarantineHandling(_Keyword):
    """Keywords of C{Q:} (mgcp.md 6.5)."""

    PROCESS = "process"
    DISCARD = "discard"
    STEP = "step"
    LOOP = "loop"


class EventAction(_Keyword):
    """Actions of a requested event in C{R:} (mgcp.md 7.1)."""

    NOTIFY = "N"
    ACCUMULATE = "A"
    DIGIT_MAP = "D"
    SWAP = "S"
    IGNORE = "I"
    KEEP_SIGNALS = "K"
    EMBEDDED = "E"


PARAMETER_NAMES: dict[str, str] = {
    "K": "ResponseAck",
    "B": "BearerInformation",
    "C": "CallId",
    "A": "Capabilities",
    "I": "ConnectionId",
    "M": "ConnectionMode",
    "P": "ConnectionParameters",
    "T": "DetectEvents",
    "D": "DigitMap",
    "ES": "EventStates",
    "L": "LocalConnectionOptions",
    "MD": "MaxMGCPDatagram",
    "N": "NotifiedEntity",
    "O": "ObservedEvents",
    "PL": "PackageList",
    "Q": "QuarantineHandling",
    "E": "ReasonCode",
    "F": "RequestedInfo",
    "R": "RequestedEvents",
    "X": "RequestIdentifier",
    "RD": "RestartDelay",
    "RM": "RestartMethod",
    "I2": "SecondConnectionId",
    "Z2": "SecondEndpointId",
    "S": "SignalRequests",
    "Z": "SpecificEndpointId",
}
"""Every standard parameter line letter (mgcp.md 2.3) and its RFC name."""

REPEATABLE_PARAMETERS = frozenset({"A", "Z"})
"""Parameters that may appear on more than one line of a message."""
