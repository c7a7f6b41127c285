# -*- test-case-name: tests.test_sccp_config -*-
"""
The C{call-manager-fallback:} section of router.yaml: SCCP listeners, limits,
timers, lines of known phones and call-control features.

The trustpoints it names belong to the C{pki:} section: L{srst.config} reads
that first and hands L{readCallManagerFallback} what it needs to check the
names.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from attrs import frozen

from srst.calls.alias import MAX_TAG, Alias, aliasPatternProblem
from srst.calls.dialplan import DialplanPattern, dialplanPatternProblem
from srst.calls.voicemail import PATTERN_SYNTAX, TOKENS, VmIntegration, VmPattern, patternProblem
from srst.configreader import ConfigProblem, Reader
from srst.pki.config import IdentityTrustpointConfig
from srst.sccp.mediaconfig import ConferenceConfig, MohConfig, readMohAndConference

CONNECTION_MARGIN = 16
"""
SCCP connections allowed beyond two per phone by default (C{max-connections}
= 2 x C{max-ephones} + this): connections that are only passing through,
such as TLS handshakes under way, phones over C{max-ephones} being told
RegisterReject, a monitoring probe.
"""

CONNECTIONS_PER_HOST = 4
"""
The default C{max-connections-per-host}, the connections with no phone
registered one address may hold (registered phones behind one NAT address do
not count): a phone that restarts opens its next two before the router has
seen the old ones go.
"""

_DN = re.compile(r"^[0-9*#]{1,24}$")
_PATTERN = re.compile(r"^[0-9.*#T+\[\]\-]{1,32}$")
_MAC = re.compile(r"^(?:SEP)?([0-9A-Fa-f]{4})\.?([0-9A-Fa-f]{4})\.?([0-9A-Fa-f]{4})$")


def normalizeMac(text: str) -> str | None:
    """
    Accept C{1000.1111.0002}, C{100011110002} or C{SEP100011110002}.

    @return: twelve upper-case hex digits, or C{None} when C{text} is none of
        those forms.
    """
    match = _MAC.match(text.strip())
    if match is None:
        return None
    return "".join(match.groups()).upper()


DEFAULT_RESERVATION_TIMEOUT_DAYS = 365
"""
How long an auto-assigned number stays reserved for a phone not seen
(days).  An SRST router sees its phones only during WAN outages, which
can be months apart, so a shorter default would lose the numbers of every
phone after a quiet spell; the table is bounded anyway (a full range
reuses the reservation unseen the longest), so expiry only frees numbers
nobody needs.
"""

MAX_RESERVATION_TIMEOUT_DAYS = 3650
"""The longest C{auto-assign.reservation-timeout-days} accepted."""


@frozen
class LineButton:
    """
    A line button of a configured ephone: C{button 1:14} with C{ephone-dn 14
    number 2002 label ... name ...}.

    @ivar pickupGroup: the DN's C{pickup-group} (digits; empty: none).
    """

    button: int
    dn: str
    label: str = ""
    name: str = ""
    pickupGroup: str = ""


@frozen
class SpeedDial:
    """
    A speed-dial button: C{speed-dial 2 2003 label "Lab"}.
    """

    button: int
    number: str
    label: str = ""


@frozen
class EphoneConfig:
    """
    A phone known by MAC address (IOS C{ephone}).

    @ivar mac: twelve upper-case hex digits.
    """

    mac: str
    type: str = ""
    buttons: tuple[LineButton, ...] = ()
    speedDials: tuple[SpeedDial, ...] = ()


@frozen
class Timeouts:
    """
    C{keepalive}, C{timeouts ringing|busy|interdigit} in seconds.
    """

    keepalive: int = 30
    ringing: int = 180
    busy: int = 10
    interdigit: int = 10


@frozen
class CallForward:
    """
    Router-wide call forwarding (C{call-forward busy|noan}).
    """

    all: str | None = None
    busy: str | None = None
    noAnswer: str | None = None
    noAnswerTimeout: int = 20


@frozen
class CallManagerFallbackConfig:
    """
    The C{call-manager-fallback} section.

    @ivar securePort: the TLS listener's port (C{port} + 443 by default; 0 when
        C{port} is 0 so tests get an ephemeral port for both).
    @ivar trustpoint: the identity presented on the TLS listener, or C{None}
        for no secure listener.
    @ivar phoneTrustpoints: names of the CA trustpoints phone certificates
        must chain to.
    @ivar lineMode: C{"single"}, C{"dual-line"} or C{"octo-line"} (channels
        per DN: 1, 2, 8).
    @ivar maxConnections: C{max-connections} as configured, or L{None} for
        the default (L{connectionLimit} gives the value in force).
    @ivar maxConnectionsPerHost: C{max-connections-per-host} as configured,
        or L{None} for the default (L{connectionLimitPerHost}).
    @ivar autoAssign: C{auto-assign.dn-range} as C{(first, last)}, or
        L{None} when phones that are not configured are refused.
    @ivar aliases: the C{alias} commands (L{srst.calls.alias}).
    @ivar blindTransferPatterns: the C{transfer-pattern}s given with
        C{blind} (also in C{transferPatterns}): transfers to numbers they
        match are blind whatever C{transfer-system} says.
    @ivar huntstop: C{huntstop} (default on); C{false} is IOS C{no
        huntstop}: a busy number hunts on to its aliases, and a busy
        alternate to the next alias.
    @ivar reservationTimeoutDays: C{auto-assign.reservation-timeout-days}:
        the auto-assigned number of a phone not seen for this many days is
        given up; L{None} keeps reservations for ever.
    @ivar voicemail: C{voicemail}: the number the Messages button dials
        (the voicemail pilot), or L{None}.
    @ivar vmIntegration: C{vm-integration}: the DTMF patterns sent to a
        voice-mail system behind a voice port (L{srst.calls.voicemail}).
    @ivar moh: C{moh}, C{moh-secure}, C{multicast-moh}: music on hold.
    @ivar conference: C{max-conferences}, C{conference-secure}.
    """

    ipSourceAddress: str
    port: int = 2000
    securePort: int = 2443
    trustpoint: str | None = None
    phoneTrustpoints: tuple[str, ...] = ()
    tlsProfile: str = "modern"
    maxEphones: int = 15
    maxDn: int = 30
    lineMode: str = "single"
    secondaryDialtone: str | None = None
    transferSystem: str = "full-consult"
    transferPatterns: tuple[str, ...] = ()
    blindTransferPatterns: tuple[str, ...] = ()
    dialplanPatterns: tuple[DialplanPattern, ...] = ()
    aliases: tuple[Alias, ...] = ()
    huntstop: bool = True
    timeouts: Timeouts = Timeouts()
    callForward: CallForward = CallForward()
    systemMessage: str | None = None
    voicemail: str | None = None
    vmIntegration: VmIntegration = VmIntegration()
    dateFormat: str = "M/D/Y"
    autoAssign: tuple[int, int] | None = None
    reservationTimeoutDays: int | None = DEFAULT_RESERVATION_TIMEOUT_DAYS
    ephones: tuple[EphoneConfig, ...] = ()
    maxConnections: int | None = None
    maxConnectionsPerHost: int | None = None
    moh: MohConfig = MohConfig()
    conference: ConferenceConfig = ConferenceConfig()

    @property
    def connectionLimit(self) -> int:
        """
        @return: the SCCP connections (plain and TLS together) the router
            keeps open at most: C{max-connections}, by default two per phone
            (a standby connection and a registration each) plus
            L{CONNECTION_MARGIN}.
        """
        if self.maxConnections is not None:
            return self.maxConnections
        return 2 * self.maxEphones + CONNECTION_MARGIN

    @property
    def connectionLimitPerHost(self) -> int:
        """
        @return: the SCCP connections with no phone registered one source
            address may hold:
            C{max-connections-per-host}, by default L{CONNECTIONS_PER_HOST},
            and never more than L{connectionLimit} (a configured
            C{max-connections} below it is an error; a derived one wins).
        """
        perHost = CONNECTIONS_PER_HOST if self.maxConnectionsPerHost is None else self.maxConnectionsPerHost
        return min(perHost, self.connectionLimit)

    @property
    def channelsPerDn(self) -> int:
        """
        @return: 1, 2 or 8 channels per directory number.
        """
        return {"single": 1, "dual-line": 2, "octo-line": 8}[self.lineMode]


_PICKUP_GROUP = re.compile(r"[0-9]{1,32}\Z")
"""IOS C{pickup-group}: a string of up to 32 digits."""


def _number(reader: Reader, key: str, required: bool = False) -> str | None:
    value = reader.string(key, required=required)
    if value is not None and not _DN.match(value):
        reader.problem(key, value, "expected a directory number of 1 to 24 digits (0-9, * and #)")
        return None
    return value


def readCallManagerFallback(
    c: Reader,
    identity: Callable[[str], IdentityTrustpointConfig | None],
    phoneTrustpointNames: list[str],
    certificateServer: str | None = None,
) -> CallManagerFallbackConfig:
    """
    Validate C{call-manager-fallback}.

    @param identity: looks up an identity trustpoint by name (C{None} when
        there is none).
    @param phoneTrustpointNames: the configured phone CA trustpoints.
    @param certificateServer: the local certificate server's name, which
        C{phone-trustpoints} may also name (phones with certificates from the
        router's own CA, as in a lab).
    """
    address = c.address("ip-source-address", required=True)
    port = c.port("port", 2000)
    securePort = c.port("secure-port", (port + 443) if port else 0)
    trustpoint = c.string("trustpoint")
    if trustpoint is not None and identity(trustpoint) is None:
        c.problem("trustpoint", trustpoint, "expected the name of an identity trustpoint under pki.trustpoints")
    allowed = phoneTrustpointNames + ([certificateServer] if certificateServer else [])
    phoneTps = c.listOf("phone-trustpoints", lambda v, p: _trustpointName(v, p, allowed, c.problems))
    if not c.has("phone-trustpoints"):
        phoneTps = list(phoneTrustpointNames)
    if trustpoint is not None and not phoneTps:
        c.problem("trustpoint", trustpoint,
                  "a secure listener needs at least one phone CA trustpoint (pki.trustpoints with certificates:)")
    maxEphones = c.integer("max-ephones", 15, 1, 5000)
    maxConnections = c.integer("max-connections", None, 1, 100000)
    perHost = c.integer("max-connections-per-host", None, 1, 100000)
    if perHost is not None and maxConnections is not None and perHost > maxConnections:
        c.problem("max-connections-per-host", perHost, f"expected at most max-connections ({maxConnections})")
        perHost = None
    maxDn, lineMode = _readMaxDn(c)
    secondary = c.string("secondary-dialtone")
    if secondary is not None and not _DN.match(secondary):
        c.problem("secondary-dialtone", secondary, "expected an access code of digits")
        secondary = None
    transferSystem = c.string("transfer-system", "full-consult",
                              choices=["blind", "full-blind", "full-consult", "local-consult"])
    transferPatterns = c.listOf("transfer-pattern", lambda v, p: _transferPattern(v, p, c.problems))
    patterns = [pattern for pattern, blind in transferPatterns]
    tags: set[int] = set()
    dialplanPatterns = c.listOf("dialplan-patterns", lambda v, p: _dialplanPattern(v, p, tags, c.problems))
    aliasTags: set[int] = set()
    aliases = c.listOf("aliases", lambda v, p: _alias(v, p, aliasTags, c.problems))
    huntstop = c.boolean("huntstop", True)
    timeouts = c.child("timeouts")
    t = Timeouts(
        keepalive=timeouts.integer("keepalive", 30, 10, 65535) or 30,
        ringing=timeouts.integer("ringing", 180, 5, 60000) or 180,
        busy=timeouts.integer("busy", 10, 0, 30) or 10,
        interdigit=timeouts.integer("interdigit", 10, 2, 120) or 10,
    )
    timeouts.finish()
    forward = c.child("call-forward")
    cf = CallForward(
        all=_number(forward, "all"),
        busy=_number(forward, "busy"),
        noAnswer=_number(forward, "no-answer"),
        noAnswerTimeout=forward.integer("no-answer-timeout", 20, 3, 60000) or 20,
    )
    forward.finish()
    autoAssign = None
    reservationTimeoutDays: int | None = DEFAULT_RESERVATION_TIMEOUT_DAYS
    if c.has("auto-assign"):
        a = c.child("auto-assign")
        rangeText = a.string("dn-range", required=True)
        reservationTimeoutDays = _reservationTimeout(a)
        a.finish()
        autoAssign = _dnRange(rangeText, a)
    ephones = c.listOf("ephones", lambda v, p: _ephone(v, p, c.problems))
    _checkEphones(c, ephones, maxDn)
    voicemail = _number(c, "voicemail")
    vmIntegration = _vmIntegration(c, voicemail)
    moh, conference = readMohAndConference(c)
    config = CallManagerFallbackConfig(
        ipSourceAddress=address or "127.0.0.1",
        port=port if port is not None else 2000,
        securePort=securePort if securePort is not None else 2443,
        trustpoint=trustpoint,
        phoneTrustpoints=tuple(phoneTps),
        tlsProfile=c.string("tls-profile", "modern", choices=["modern", "legacy"]) or "modern",
        maxEphones=maxEphones or 15,
        maxDn=maxDn or 30,
        lineMode=lineMode,
        secondaryDialtone=secondary,
        transferSystem=transferSystem or "full-consult",
        transferPatterns=tuple(patterns),
        blindTransferPatterns=tuple(pattern for pattern, blind in transferPatterns if blind),
        dialplanPatterns=tuple(dialplanPatterns),
        aliases=tuple(aliases),
        huntstop=huntstop,
        timeouts=t,
        callForward=cf,
        systemMessage=c.string("system-message"),
        voicemail=voicemail,
        vmIntegration=vmIntegration,
        dateFormat=c.string("date-format", "M/D/Y", choices=["m/d/y", "d/m/y", "y/m/d", "m/d/ya"]) or "m/d/y",
        autoAssign=autoAssign,
        reservationTimeoutDays=reservationTimeoutDays,
        ephones=tuple(ephones),
        maxConnections=maxConnections,
        maxConnectionsPerHost=perHost,
        moh=moh,
        conference=conference,
    )
    c.finish()
    return config


def _vmIntegration(c: Reader, voicemail: str | None) -> VmIntegration:
    if not c.has("vm-integration"):
        return VmIntegration()
    v = c.child("vm-integration")
    p = v.child("pattern")
    direct, busy, noAnswer = (_vmPattern(p, key) for key in ("direct", "ext-to-ext-busy", "ext-to-ext-no-answer"))
    p.finish()
    v.finish()
    if voicemail is None and (direct or busy or noAnswer):
        c.problem("vm-integration", c.raw("vm-integration"), "needs call-manager-fallback.voicemail (the number "
                                                             "the patterns are sent to)")
    return VmIntegration(direct, busy, noAnswer)


def _vmPattern(p: Reader, key: str) -> VmPattern | None:
    raw = p.raw(key)
    if raw is None:
        return None
    items = raw.split() if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, (str, int)) and not isinstance(i, bool) for i in items):
        p.problem(key, raw, PATTERN_SYNTAX)
        return None
    texts = [str(i) for i in items]
    problem = patternProblem(texts)
    if problem is not None:
        p.problem(key, raw, problem)
        return None
    return VmPattern(tuple(t.upper() if t.upper() in TOKENS else t for t in texts))


def _trustpointName(value: Any, path: str, names: list[str], problems: list[ConfigProblem]) -> str | None:
    if str(value) not in names:
        problems.append(ConfigProblem(path, value, "expected the name of a phone CA trustpoint: " + ", ".join(names)))
        return None
    return str(value)


def _pattern(value: Any, path: str, problems: list[ConfigProblem]) -> str | None:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text is None or not _PATTERN.match(text):
        problems.append(ConfigProblem(path, value, "expected a dial pattern such as ..... or 9T"))
        return None
    return text


def _transferPattern(value: Any, path: str, problems: list[ConfigProblem]) -> tuple[str, bool] | None:
    """C{transfer-pattern}: a dial pattern, optionally followed by C{blind} (IOS C{transfer-pattern 2... blind})."""
    if isinstance(value, str) and value.endswith(" blind"):
        pattern = value[:-len(" blind")].rstrip()
        if _PATTERN.match(pattern):
            return pattern, True
    pattern = _pattern(value, path, problems)
    return (pattern, False) if pattern is not None else None


def _dialplanPattern(value: Any, path: str, tags: set[int],
                     problems: list[ConfigProblem]) -> DialplanPattern | None:
    if not isinstance(value, dict):
        problems.append(ConfigProblem(path, value, "expected a mapping such as {tag: 1, pattern: 40855501.., "
                                                   "extension-length: 4}"))
        return None
    r = Reader(value, path, problems)
    before = len(problems)
    tag = r.integer("tag", None, 1, 5, required=True)
    pattern = r.string("pattern", required=True)
    length = r.integer("extension-length", None, 1, 32, required=True)
    extensionPattern = r.string("extension-pattern")
    noReg = r.boolean("no-reg")
    r.finish()
    if len(problems) > before or tag is None or pattern is None or length is None:
        return None
    if tag in tags:
        problems.append(ConfigProblem(r.sub("tag"), tag, "each dialplan-pattern needs its own tag"))
        return None
    tags.add(tag)
    problem = dialplanPatternProblem(pattern, length, extensionPattern)
    if problem is not None:
        problems.append(ConfigProblem(path, value, problem))
        return None
    return DialplanPattern(tag, pattern, length, extensionPattern, noReg)


def _alias(value: Any, path: str, tags: set[int], problems: list[ConfigProblem]) -> Alias | None:
    if not isinstance(value, dict):
        problems.append(ConfigProblem(path, value, "expected a mapping such as {tag: 1, pattern: 60.., to: 5001}"))
        return None
    r = Reader(value, path, problems)
    before = len(problems)
    tag = r.integer("tag", None, 1, MAX_TAG, required=True)
    pattern = r.string("pattern", required=True)
    if pattern is not None and not _PATTERN.match(pattern):
        r.problem("pattern", pattern, "expected a number pattern such as 60.. or 1001")
    elif pattern is not None and (problem := aliasPatternProblem(pattern)) is not None:
        r.problem("pattern", pattern, problem)
    to = _number(r, "to", required=True)
    preference = r.integer("preference", 0, 0, 10)
    cfw, cfwTimeout = None, 20
    f = r.optionalChild("cfw")
    if f is not None:
        cfw = _number(f, "number", required=True)
        cfwTimeout = f.integer("timeout", None, 3, 60000, required=True)
        f.finish()
    huntstop = r.boolean("huntstop")
    r.finish()
    if len(problems) > before or tag is None or pattern is None or to is None:
        return None
    if tag in tags:
        problems.append(ConfigProblem(r.sub("tag"), tag, "each alias needs its own tag"))
        return None
    tags.add(tag)
    return Alias(tag, pattern, to, preference or 0, cfw, cfwTimeout or 20, huntstop)


def _readMaxDn(c: Reader) -> tuple[int | None, str]:
    raw = c.raw("max-dn", 30)
    text = str(raw) if isinstance(raw, (int, str)) and not isinstance(raw, bool) else ""
    parts = text.split()
    modes = {"dual-line": "dual-line", "octo-line": "octo-line"}
    if parts and parts[0].isdigit() and 1 <= int(parts[0]) <= 10000 and (
        len(parts) == 1 or (len(parts) == 2 and parts[1] in modes)
    ):
        return int(parts[0]), modes.get(parts[1], "single") if len(parts) == 2 else "single"
    c.problem("max-dn", raw, "expected a number of directory numbers from 1 to 10000, optionally followed by dual-line or octo-line")
    return None, "single"


def _dnRange(text: str | None, reader: Reader) -> tuple[int, int] | None:
    if text is None:
        return None
    match = re.match(r"^\s*(\d{1,15})\s*-\s*(\d{1,15})\s*$", text)
    if match is None or int(match.group(1)) > int(match.group(2)) or len(match.group(1)) != len(match.group(2)):
        reader.problem("dn-range", text, "expected FIRST-LAST with digits of equal length, FIRST <= LAST, e.g. 2000-2099")
        return None
    return int(match.group(1)), int(match.group(2))


def _reservationTimeout(reader: Reader) -> int | None:
    """
    C{reservation-timeout-days}: 1 to 3650 days, or C{0}/C{null}/C{none}
    for reservations that never expire.
    """
    key = "reservation-timeout-days"
    if not reader.has(key):
        return DEFAULT_RESERVATION_TIMEOUT_DAYS
    raw = reader.raw(key)
    if raw is None or (isinstance(raw, str) and raw.lower() == "none"):
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= MAX_RESERVATION_TIMEOUT_DAYS:
        return raw or None
    reader.problem(key, raw, f"expected a number of days from 1 to {MAX_RESERVATION_TIMEOUT_DAYS}, "
                             "or 0 or none for reservations that never expire")
    return DEFAULT_RESERVATION_TIMEOUT_DAYS


def _ephone(value: Any, path: str, problems: list[ConfigProblem]) -> EphoneConfig | None:
    e = Reader(value, path, problems)
    if not isinstance(value, dict):
        return None
    macText = e.string("mac", required=True)
    mac = normalizeMac(macText) if macText else None
    if macText is not None and mac is None:
        e.problem("mac", macText, "expected a MAC address such as 1000.1111.0002")

    def button(v: Any, p: str) -> LineButton | None:
        b = Reader(v, p, problems)
        if not isinstance(v, dict):
            return None
        number = b.integer("line", required=True, minimum=1, maximum=42)
        dn = _number(b, "dn", required=True)
        label = b.string("label", "", allowEmpty=True)
        name = b.string("name", "", allowEmpty=True)
        group = b.string("pickup-group", "", allowEmpty=True)
        if group and not _PICKUP_GROUP.match(group):
            b.problem("pickup-group", group, "expected a pickup group number of 1 to 32 digits")
            group = ""
        b.finish()
        if number is None or dn is None:
            return None
        return LineButton(number, dn, label or "", name or "", group or "")

    def speedDial(v: Any, p: str) -> SpeedDial | None:
        s = Reader(v, p, problems)
        if not isinstance(v, dict):
            return None
        number = s.integer("button", required=True, minimum=1, maximum=42)
        target = _number(s, "number", required=True)
        label = s.string("label", "", allowEmpty=True)
        s.finish()
        if number is None or target is None:
            return None
        return SpeedDial(number, target, label or "")

    buttons = e.listOf("buttons", button)
    speedDials = e.listOf("speed-dials", speedDial)
    used = [b.button for b in buttons] + [s.button for s in speedDials]
    if len(set(used)) != len(used):
        e.problem("buttons", used, "each button number may be used once (lines and speed dials together)")
    phoneType = e.string("type", "", allowEmpty=True)
    e.finish()
    if mac is None:
        return None
    return EphoneConfig(mac, phoneType or "", tuple(buttons), tuple(speedDials))


def _checkEphones(c: Reader, ephones: list[EphoneConfig], maxDn: int | None) -> None:
    seen: set[str] = set()
    for ephone in ephones:
        if ephone.mac in seen:
            c.problem("ephones", ephone.mac, "each MAC address may be listed once")
        seen.add(ephone.mac)
    dns = {b.dn for e in ephones for b in e.buttons}
    if maxDn is not None and len(dns) > maxDn:
        c.problem("ephones", len(dns), f"the ephones use more directory numbers than max-dn ({maxDn}) allows")
