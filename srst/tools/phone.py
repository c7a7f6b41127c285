# -*- test-case-name: tests.test_phone,tests.test_phone_call -*-
"""
C{srst-phone}: simulated Cisco SCCP phones, for testing and loading an srst
router.

Register phones and hold them until Ctrl-C (or for C{--hold} seconds), then
unregister them all::

    srst-phone register --host 127.0.0.1 --port 2000 [--count N]
        [--mac 000000000001] [--type 7970] [--version 11]
        [--concurrency 100] [--hold SECONDS] [--alarm] [--json]

Over TLS (port 2443 by default), with one client certificate for every
phone, or an LSC minted per MAC from a CA, the way CAPF does::

    srst-phone register --tls --ca router-ca.pem --cert lsc.pem --key lsc.key
    srst-phone register --tls --ca router-ca.pem --count 1500 \\
        --issue-from-ca capf.pem --ca-key capf.key

Issue one LSC into files::

    srst-phone issue-lsc --ca-cert capf.pem --ca-key capf.key \\
        --mac 00:11:22:33:44:55 --out-cert lsc.pem --out-key lsc.key

Make one call from a terminal, or answer one, as a person would::

    srst-phone call --from 000000000001 --to 2002 [--hold SECONDS]
        [--softkey NAME ...] [--button speeddial:N|messages|redial ...]
        [--connected-softkey NAME ...] [--transfer-to NUMBER [--blind]]
        [--conference-with NUMBER] [--play FILE.wav] [--record FILE.wav]
    srst-phone answer --mac 000000000002 [--hold SECONDS] [--play ...] [--record ...]
    srst-phone call --from 000000000002 --softkey DND
    srst-phone call --mac 000000000002 --softkey CFwdAll --to 2003

Work one phone from the terminal, as a person works a handset (see
L{srst.tools._phonescreen}: the prompt, line lamps, softkeys and call
state; o/h/space hook, digits dial, F1-F8 or s+1..8 softkeys, q quits and
unregisters)::

    srst-phone run --mac 000000000001 [--tls --ca ... --cert ... --key ...]

(the TLS options are those of C{register}: C{--tls --ca --cert --key}).
They print one line per call state (see L{srst.tools._phonecall}).
Once connected the phone sends G.711 RTP every 20 ms (SRTP with the
router's keys when the call is secure): a dial tone, or the 8 kHz mono
C{--play} file and then silence (without C{--hold} the phone hangs up once
the file has been sent); C{--record} writes what it heard (decrypted) to a
16-bit WAV file when the command ends.

C{register} reports how many phones registered, registrations per second
and the p50/p99 registration latency (see L{srst.tools._phoneload}).  The
phones themselves are L{srst.tools._phoneclient.SimulatedPhone}; tests use
them directly.

Exit codes: 0 success (for C{call} and C{answer}: the call connected, or
the keys were pressed (a forward set) when no call was made); 1 some phones did not
register (or unregister), or the connection was lost; 2 usage error
(an unknown softkey or button name too); 3 an unreadable certificate, key or CA file,
or a CA that cannot issue, or a C{--play} file that cannot be read or a
C{--record} file that cannot be written; 4 the called number is busy (C{call}); 5 reorder:
the number is unknown or the call cannot be made (C{call}).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import typing
from typing import Any, Callable, Optional, Sequence, TextIO, cast

from attrs import frozen
from cryptography import x509
from twisted.internet.defer import Deferred, race, succeed
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IReadDescriptor
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from srst.pki.ca import KeySpecError, PrivateKey
from srst.pki.trust import (
    CertificateFileError,
    loadCertificateFile,
    loadPrivateKeyFile,
)
from srst.sccp.constants import SoftKeyEvent
from srst.tools._phonecall import (
    CallFollower,
    Key,
    Outcome,
    UnknownButton,
    UnknownSoftKey,
    button,
    softKey,
    softKeyEvent,
)
from srst.tools._phoneclient import OneShot, SimulatedPhone
from srst.tools._phoneload import (
    LoadGenerator,
    LoadResult,
    TLSOptionsFor,
    percentile,
)
from srst.tools._phonetypes import (
    PhoneConfig,
    PhoneDisconnected,
    PhoneError,
    PhoneState,
    RegistrationRejected,
    RegistrationTimedOut,
    UnknownModelError,
    UnregisterRefused,
    UnregisterTimedOut,
    deviceTypeForModel,
)
from srst.ports.wav import MAX_RECORD_SECONDS, WavError, WavWriter, openWavWriter, readWav
from srst.ports.g711 import SAMPLE_RATE
from srst.tools._phonemedia import FileSource, PhoneMedia, Recording
from srst.tools._phonescreen import Do, KeyMap, PhoneScreen, Terminal
from srst.tools._phonewire import (
    PhoneProtocol,
    PhoneReactor,
    clientTLSOptions,
    connectPhone,
)
from srst.tools.lsc import (
    InvalidMacError,
    IssuedLSC,
    LSCIssueError,
    issueLSC,
    loadCA,
    macRange,
    normalizeMac,
    writeLSC,
)

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_FILES = 3
EXIT_BUSY = 4
EXIT_REORDER = 5

PLAIN_PORT = 2000
TLS_PORT = 2443

RunInThread = Callable[..., Deferred[Any]]
"""C{runInThread(f, *args)}: run C{f} off the reactor thread."""


class ToolReactor(PhoneReactor, typing.Protocol):
    """
    What C{srst-phone} uses of the reactor: what phones connect with
    (L{PhoneReactor}: TCP and the clock) and the shutdown trigger that
    unregisters them on Ctrl-C
    (L{twisted.internet.interfaces.IReactorCore}).
    """

    def addSystemEventTrigger(self, phase: str, eventType: str,
                              callable: Callable[..., object],
                              *args: object, **kwargs: object) -> object:
        "See L{twisted.internet.interfaces.IReactorCore.addSystemEventTrigger}."

    def removeSystemEventTrigger(self, triggerID: object) -> None:
        "See L{twisted.internet.interfaces.IReactorCore.removeSystemEventTrigger}."


class _MainReactor(ToolReactor, typing.Protocol):
    """
    The reactor of the console script: a L{ToolReactor} with a thread pool
    (L{twisted.internet.interfaces.IReactorThreads}) for key generation.
    """

    def getThreadPool(self) -> ThreadPool:
        "See L{twisted.internet.interfaces.IReactorThreads.getThreadPool}."


def _utcNow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


# -- argument parsing ---------------------------------------------------------


def _mac(text: str) -> str:
    try:
        return normalizeMac(text)
    except InvalidMacError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _model(text: str) -> int:
    try:
        return deviceTypeForModel(text)
    except UnknownModelError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1: %s" % (text,))
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative: %s" % (text,))
    return value


def _version(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 255:
        raise argparse.ArgumentTypeError(
            "a protocol version is 1..255: %s" % (text,))
    return value


def _when(text: str) -> datetime.datetime:
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "not an ISO 8601 time: %s" % (text,)) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when


def _addRouter(p: argparse.ArgumentParser) -> None:
    """--host and --port: the router the phones register with."""
    p.add_argument("--host", default="127.0.0.1",
                   help="the router's IPv4 address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None,
                   help="its SCCP port (default 2000, or 2443 with --tls)")


def _addTLS(p: argparse.ArgumentParser,
            certHelp: str) -> argparse._ArgumentGroup:
    """
    The TLS group: --tls, --ca, --cert (helped with C{certHelp}), --key.

    @return: the group, for a command's further TLS options.
    """
    tls = p.add_argument_group("TLS")
    tls.add_argument("--tls", action="store_true",
                     help="connect with TLS (secure SCCP)")
    tls.add_argument("--ca", metavar="FILE",
                     help="the router's CA certificate(s) to verify it with")
    tls.add_argument("--cert", metavar="FILE", help=certHelp)
    tls.add_argument("--key", metavar="FILE", help="its private key")
    return tls


def _addVerifyHost(tls: argparse._ArgumentGroup) -> None:
    """--no-verify-host, the last of the TLS group."""
    tls.add_argument("--no-verify-host", dest="verifyHost",
                     action="store_false",
                     help="check only the router's chain, not that its "
                     "certificate names --host (what real phones do)")


def _addRegister(
        commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "register", help="register phones and hold them (load generator)",
        description="Register simulated phones, report registrations/s and "
        "latency, hold the registrations with keepalives until Ctrl-C (or "
        "--hold seconds), then unregister them.")
    _addRouter(p)
    p.add_argument("--count", type=_positive, default=1,
                   help="how many phones (default 1)")
    p.add_argument("--mac", type=_mac, default="000000000001",
                   help="MAC of the first phone; the others count up "
                   "(default 000000000001)")
    p.add_argument("--type", dest="deviceType", type=_model, default="7970",
                   help="phone model or device type number (default 7970)")
    p.add_argument("--version", dest="protocolVersion", type=_version,
                   default=11, help="highest protocol version the phones "
                   "advertise (default 11)")
    p.add_argument("--concurrency", type=_positive, default=100,
                   help="phones connecting at the same time (default 100)")
    p.add_argument("--hold", type=_seconds, default=None, metavar="SECONDS",
                   help="unregister and exit after this long (default: "
                   "hold until Ctrl-C)")
    p.add_argument("--timeout", type=_seconds, default=30.0,
                   help="seconds a phone may take to register (default 30)")
    p.add_argument("--alarm", action="store_true",
                   help="send an Alarm before Register, as rebooted phones do")
    p.add_argument("--json", action="store_true",
                   help="print the figures as JSON")
    p.add_argument("--decode-all", dest="decodeAll", action="store_true",
                   help="decode every message the router sends (slower; by "
                   "default only those that drive registration are decoded)")
    tls = _addTLS(p, "client certificate (LSC) used by every phone")
    tls.add_argument("--issue-from-ca", dest="issueFromCA", metavar="FILE",
                     help="mint an LSC per phone from this CA certificate")
    tls.add_argument("--ca-key", dest="caKey", metavar="FILE",
                     help="the private key of --issue-from-ca")
    tls.add_argument("--lsc-key-type", dest="lscKeyType", default="ecdsa",
                     choices=("ecdsa", "rsa"),
                     help="key type of minted LSCs (default ecdsa P-256)")
    tls.add_argument("--share-key", dest="shareKey", action="store_true",
                     help="give every minted LSC the same key (fast RSA)")
    _addVerifyHost(tls)
    p.set_defaults(func=_register)


def _softKey(text: str) -> str:
    try:
        softKeyEvent(text)
    except UnknownSoftKey as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _key(text: str) -> Key:
    try:
        return softKey(text)
    except UnknownSoftKey as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _button(text: str) -> Key:
    try:
        return button(text)
    except UnknownButton as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _addKeys(p: argparse.ArgumentParser, what: str) -> None:
    """--softkey and --button: the keys pressed, in order, before C{what}."""
    p.add_argument("--softkey", dest="keys", type=_key,
                   action="append", default=[], metavar="NAME",
                   help="press this softkey (as the phone shows it: DND, "
                   "PickUp, GPickUp, Redial, NewCall, CFwdAll ...) before "
                   "%s; repeatable, in order with --button" % (what,))
    p.add_argument("--button", dest="keys", type=_button,
                   action="append", metavar="BUTTON",
                   help="press this button before %s: speeddial:N (the N-th "
                   "speed dial), messages (dials the voicemail number) or "
                   "redial; repeatable, in order with --softkey" % (what,))


def _addOnePhone(p: argparse.ArgumentParser) -> None:
    """The router and the model of one phone (call, answer, run)."""
    _addRouter(p)
    p.add_argument("--type", dest="deviceType", type=_model, default="7970",
                   help="phone model or device type number (default 7970)")
    p.add_argument("--version", dest="protocolVersion", type=_version,
                   default=11, help="highest protocol version the phone "
                   "advertises (default 11)")


def _addOnePhoneTLS(p: argparse.ArgumentParser) -> None:
    """The TLS group of one phone (call, answer, run), which mints no LSC."""
    tls = _addTLS(p, "the phone's certificate (LSC)")
    _addVerifyHost(tls)
    p.set_defaults(issueFromCA=None, caKey=None, count=1, decodeAll=True)


def _addPhoneOptions(p: argparse.ArgumentParser) -> None:
    """The options of one phone that makes or answers a call."""
    _addOnePhone(p)
    p.add_argument("--hold", type=_seconds, default=None, metavar="SECONDS",
                   help="hang up after this long connected (default: when "
                   "the far end hangs up, or Ctrl-C); with only softkeys "
                   "and no call, stay registered this long (default: until "
                   "Ctrl-C)")
    p.add_argument("--timeout", type=_seconds, default=30.0,
                   help="seconds the phone may take to register (default 30)")
    p.add_argument("--play", metavar="FILE",
                   help="once connected, say this 8 kHz mono WAV file into "
                   "the call (then silence); without --hold, hang up once it "
                   "has been sent")
    p.add_argument("--record", metavar="FILE",
                   help="write what the phone hears (decrypted) to this WAV "
                   "file (16-bit, 8 kHz) when the command ends")
    _addOnePhoneTLS(p)


def _addCall(
        commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "call", help="register one phone and make a call (or press softkeys)",
        description="Register the phone, press the --softkey keys in order, "
        "go off hook and dial --to, print each call state the router "
        "reports, stay connected (--hold), then hang up and unregister.")
    p.add_argument("--from", "--mac", dest="mac", type=_mac, required=True,
                   metavar="MAC", help="the calling phone's MAC")
    p.add_argument("--to", dest="number", metavar="NUMBER",
                   help="the number to dial (after the keys; a key that "
                   "gives dial tone, such as PickUp, is not followed by "
                   "OffHook; after CFwdAll it is the forward target, "
                   "ended with #)")
    _addKeys(p, "dialling")
    p.add_argument("--connected-softkey", dest="connectedSoftKeys",
                   type=_softKey, action="append", default=[],
                   metavar="NAME", help="press this softkey once connected "
                   "(Hold, Resume, Trnsfer ...); repeatable")
    p.add_argument("--transfer-to", dest="transferTo", metavar="NUMBER",
                   help="once connected (and after --connected-softkey), "
                   "transfer the call to NUMBER: press Trnsfer, dial it, "
                   "press Trnsfer again when it answers (consult) or, "
                   "with --blind, as soon as it rings")
    p.add_argument("--blind", action="store_true",
                   help="with --transfer-to: complete the transfer when "
                   "the target rings")
    p.add_argument("--conference-with", dest="conferenceWith",
                   metavar="NUMBER",
                   help="once connected (and after --connected-softkey), "
                   "make a three-party conference with NUMBER: press "
                   "Confrn, dial it, press Confrn again when it answers")
    _addPhoneOptions(p)
    p.set_defaults(func=_call)


def _addAnswer(
        commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "answer", help="register one phone and answer the next call",
        description="Register the phone, wait for a call, answer it (print "
        "the caller), stay connected (--hold), then hang up and unregister.")
    p.add_argument("--mac", type=_mac, required=True, help="the phone's MAC")
    _addKeys(p, "waiting")
    p.add_argument("--connected-softkey", dest="connectedSoftKeys",
                   type=_softKey, action="append", default=[],
                   metavar="NAME", help="press this softkey once connected; "
                   "repeatable")
    p.set_defaults(number=None, transferTo=None, blind=False,
                   conferenceWith=None)
    _addPhoneOptions(p)
    p.set_defaults(func=_answer)


def _addRun(
        commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "run", help="work one phone from the terminal",
        description="Register the phone and show its display, line lamps and "
        "softkeys; o/h (or space) go off/on hook, digits dial, F1-F8 (or s "
        "then 1-8) press softkeys, q hangs up, unregisters and quits.")
    p.add_argument("--mac", type=_mac, required=True, help="the phone's MAC")
    _addOnePhone(p)
    p.add_argument("--timeout", type=_seconds, default=30.0,
                   help="seconds the phone may take to register (default 30)")
    _addOnePhoneTLS(p)
    p.set_defaults(func=_run)


def _addIssueLSC(
        commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "issue-lsc", help="issue a phone LSC from a CA, like CAPF",
        description="Issue a Locally Significant Certificate (CN=SEP<MAC>, "
        "clientAuth) signed by the given CA and write it and its key as PEM.")
    p.add_argument("--ca-cert", dest="caCert", required=True, metavar="FILE")
    p.add_argument("--ca-key", dest="caKey", required=True, metavar="FILE")
    p.add_argument("--mac", type=_mac, required=True)
    p.add_argument("--out-cert", dest="outCert", required=True, metavar="FILE")
    p.add_argument("--out-key", dest="outKey", required=True, metavar="FILE")
    p.add_argument("--key-type", dest="keyType", default="ecdsa",
                   choices=("ecdsa", "rsa"))
    p.add_argument("--key-bits", dest="keyBits", type=int, default=None,
                   help="RSA key size (default 2048)")
    p.add_argument("--days", type=_positive, default=5 * 365,
                   help="validity in days (default 1825)")
    p.add_argument("--not-before", dest="notBefore", type=_when,
                   help="start of validity (ISO 8601, UTC if no zone)")
    p.add_argument("--not-after", dest="notAfter", type=_when,
                   help="end of validity (a past time makes an expired LSC)")
    p.add_argument("--chain", action="store_true",
                   help="append the CA certificate to --out-cert")
    p.add_argument("--server-auth", dest="serverAuth", action="store_true",
                   help="also allow TLS server authentication")
    p.set_defaults(func=_issueOne)


class _Parser(argparse.ArgumentParser):
    def parse_args(  # type: ignore[override]
            self, args: Optional[Sequence[str]] = None,
            namespace: Optional[argparse.Namespace] = None,
    ) -> argparse.Namespace:
        parsed = argparse.ArgumentParser.parse_args(self, args, namespace)
        if parsed.command in ("register", "call", "answer", "run"):
            _checkRegister(self, parsed)
        if parsed.command == "call" and parsed.blind and not parsed.transferTo:
            self.error("--blind needs --transfer-to")
        if parsed.command == "call" and parsed.transferTo and parsed.conferenceWith:
            self.error("--transfer-to and --conference-with: one or the other")
        return parsed


def _checkRegister(parser: argparse.ArgumentParser,
                   args: argparse.Namespace) -> None:
    if (args.cert or args.issueFromCA) and not args.tls:
        parser.error("--cert and --issue-from-ca need --tls")
    if args.tls and not args.ca:
        parser.error("--tls needs --ca (the router's CA certificate)")
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")
    if args.cert and args.issueFromCA:
        parser.error("use either --cert or --issue-from-ca")
    if bool(args.issueFromCA) != bool(args.caKey):
        parser.error("--issue-from-ca and --ca-key go together")
    try:
        macRange(args.mac, args.count)
    except ValueError as e:
        parser.error(str(e))
    if args.port is None:
        args.port = TLS_PORT if args.tls else PLAIN_PORT


def makeParser() -> argparse.ArgumentParser:
    """
    @return: the C{srst-phone} argument parser.
    """
    parser = _Parser(
        prog="srst-phone",
        description="Simulated Cisco SCCP phones for an srst router.",
        epilog="exit codes: 0 ok, 1 phones did not register, 2 usage, "
        "3 unreadable certificate/key/CA, 4 busy, 5 reorder (unknown number)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     required=True)
    _addRegister(commands)
    _addCall(commands)
    _addAnswer(commands)
    _addRun(commands)
    _addIssueLSC(commands)
    return parser


# -- issue-lsc ---------------------------------------------------------------


def _issueOne(reactor: ToolReactor, args: argparse.Namespace, out: TextIO,
              err: TextIO, runInThread: RunInThread) -> Deferred[int]:
    try:
        caCertificate, caKey = loadCA(args.caCert, args.caKey)
    except (CertificateFileError, LSCIssueError) as e:
        err.write("srst-phone: %s\n" % (e,))
        return succeed(EXIT_FILES)
    notAfter = args.notAfter
    validity = datetime.timedelta(days=args.days)

    def issue() -> IssuedLSC:
        return issueLSC(caCertificate, caKey, args.mac, now=_utcNow,
                        notBefore=args.notBefore, notAfter=notAfter,
                        validity=validity, keyType=args.keyType,
                        keyBits=args.keyBits, serverAuth=args.serverAuth)

    def write(issued: IssuedLSC) -> int:
        writeLSC(issued, args.outCert, args.outKey, includeChain=args.chain)
        certificate = issued.certificate
        out.write("issued %s serial %X valid %s to %s\n" % (
            certificate.subject.rfc4514_string(), certificate.serial_number,
            certificate.not_valid_before_utc.isoformat(),
            certificate.not_valid_after_utc.isoformat()))
        return EXIT_OK

    def failed(reason: Failure) -> int:
        reason.trap(LSCIssueError, KeySpecError, OSError)
        err.write("srst-phone: %s\n" % (reason.value,))
        return EXIT_FILES

    return runInThread(issue).addCallback(write).addErrback(failed)


# -- register ------------------------------------------------------------------


@frozen
class _TLSFiles:
    """
    What the TLS options of C{register} name, read.

    @ivar trusted: the router's CA certificates (C{--ca}).
    @ivar certificate: the client certificate every phone uses (C{--cert}).
    @ivar privateKey: its key (C{--key}).
    @ivar issuer: the CA certificate and key LSCs are minted from
        (C{--issue-from-ca}, C{--ca-key}).
    """

    trusted: list[x509.Certificate]
    certificate: Optional[x509.Certificate] = None
    privateKey: Optional[PrivateKey] = None
    issuer: Optional[tuple[x509.Certificate, PrivateKey]] = None


def _loadTLS(args: argparse.Namespace) -> Optional[_TLSFiles]:
    """
    Read the files named by the TLS options.

    @return: what they hold, or L{None} without C{--tls}.
    @raise CertificateFileError: for an unreadable file.
    @raise LSCIssueError: for a CA key that does not match.
    """
    if not args.tls:
        return None
    trusted = loadCertificateFile(args.ca)
    certificate = privateKey = issuer = None
    if args.cert:
        certificate = loadCertificateFile(args.cert)[0]
        privateKey = loadPrivateKeyFile(args.key)
    if args.issueFromCA:
        issuer = loadCA(args.issueFromCA, args.caKey)
    return _TLSFiles(trusted, certificate, privateKey, issuer)


def _issueAll(issuer: tuple[x509.Certificate, PrivateKey], macs: Sequence[str],
              keyType: str, shareKey: bool) -> dict[str, IssuedLSC]:
    caCertificate, caKey = issuer
    issued: dict[str, IssuedLSC] = {}
    shared = None
    for mac in macs:
        lsc = issueLSC(caCertificate, caKey, mac, now=_utcNow,
                       keyType=keyType, privateKey=shared)
        if shareKey:
            shared = lsc.privateKey
        issued[mac] = lsc
    return issued


async def _registerFlow(reactor: ToolReactor, args: argparse.Namespace,
                        tls: Optional[_TLSFiles], out: TextIO, err: TextIO,
                        runInThread: RunInThread) -> int:
    macs = macRange(args.mac, args.count)
    lscs: dict[str, IssuedLSC] = {}
    if tls is not None and tls.issuer is not None:
        lscs = await runInThread(_issueAll, tls.issuer, macs,
                                 args.lscKeyType, args.shareKey)
    configs = [PhoneConfig(mac=mac, deviceType=args.deviceType,
                           protocolVersion=args.protocolVersion,
                           sendAlarm=args.alarm,
                           registrationTimeout=args.timeout,
                           decodeAll=args.decodeAll)
               for mac in macs]

    tlsOptionsFor: Optional[TLSOptionsFor] = None
    if tls is not None:
        files = tls

        def tlsOptions(config: PhoneConfig) -> IOpenSSLClientConnectionCreator:
            lsc = lscs.get(config.mac)
            if lsc is not None:
                certificate, key = lsc.certificate, lsc.privateKey
            else:
                certificate, key = files.certificate, files.privateKey
            return clientTLSOptions(args.host, files.trusted, certificate,
                                    key, verifyHost=args.verifyHost)
        tlsOptionsFor = tlsOptions

    generator = LoadGenerator(reactor, args.host, args.port, configs,
                              tlsOptionsFor=tlsOptionsFor,
                              concurrency=args.concurrency)

    def reportUnregistered(counts: tuple[int, int]) -> tuple[int, int]:
        if not args.json:
            out.write("unregistered %d phones (%d failed)\n" % counts)
        out.flush()
        return counts

    def onShutdown() -> Deferred[tuple[int, int]]:
        return generator.unregisterAll().addCallback(reportUnregistered)

    trigger = reactor.addSystemEventTrigger("before", "shutdown", onShutdown)
    result: LoadResult = await generator.run()
    if args.json:
        out.write(json.dumps(result.asDict()) + "\n")
    else:
        out.write(result.describe() + "\n")
        if args.hold is None:
            out.write("holding %d registrations; Ctrl-C to unregister\n"
                      % (result.registered,))
    out.flush()
    if args.hold is None:
        await Deferred()  # until Ctrl-C; onShutdown unregisters
    await deferLater(reactor, args.hold)
    reactor.removeSystemEventTrigger(trigger)
    unregistered, failed = await onShutdown()
    if result.registered < result.attempted or failed:
        return EXIT_INCOMPLETE
    return EXIT_OK


def _register(reactor: ToolReactor, args: argparse.Namespace, out: TextIO,
              err: TextIO, runInThread: RunInThread) -> Deferred[int]:
    try:
        tls = _loadTLS(args)
    except (CertificateFileError, LSCIssueError) as e:
        err.write("srst-phone: %s\n" % (e,))
        return succeed(EXIT_FILES)
    d = Deferred.fromCoroutine(_registerFlow(reactor, args, tls, out, err,
                                             runInThread))

    def failed(reason: Failure) -> int:
        reason.trap(LSCIssueError, KeySpecError)
        err.write("srst-phone: %s\n" % (reason.value,))
        return EXIT_FILES

    return d.addErrback(failed)


# -- call and answer -----------------------------------------------------------

_EXIT_FOR_OUTCOME = {
    Outcome.CONNECTED: EXIT_OK,
    Outcome.BUSY: EXIT_BUSY,
    Outcome.REORDER: EXIT_REORDER,
    Outcome.ENDED: EXIT_REORDER,
}


@frozen
class _Audio:
    """What the person says into the call (C{--play}) and keeps of it (C{--record})."""

    source: Optional[FileSource] = None
    recording: Optional[Recording] = None
    writer: Optional[WavWriter] = None


def _loadAudio(args: argparse.Namespace) -> _Audio:
    """
    Read the C{--play} file and open the C{--record} file now, so that a
    bad path is refused before the phone registers.

    @raise WavError: naming the file and why.
    """
    source = FileSource(readWav(args.play).samples) if args.play else None
    if not args.record:
        return _Audio(source)
    return _Audio(source, Recording(MAX_RECORD_SECONDS * SAMPLE_RATE), openWavWriter(args.record))


async def _registerOne(reactor: ToolReactor, args: argparse.Namespace,
                       tls: Optional[_TLSFiles],
                       err: TextIO) -> Optional[SimulatedPhone]:
    """
    Connect one phone (C{call}, C{answer} and C{run}) and wait for it to
    register.

    @return: the registered phone, or L{None} once the reason it did not
        register is written to C{err}.
    """
    phone = SimulatedPhone(PhoneConfig(
        mac=args.mac, deviceType=args.deviceType,
        protocolVersion=args.protocolVersion,
        registrationTimeout=args.timeout), clock=reactor)
    tlsOptions = None
    if tls is not None:
        tlsOptions = clientTLSOptions(args.host, tls.trusted, tls.certificate,
                                      tls.privateKey,
                                      verifyHost=args.verifyHost)
    # A failed connection fails the phone's waiters too.
    connectPhone(reactor, phone, args.host, args.port,
                 tlsOptions).addErrback(lambda reason: None)
    try:
        await phone.whenRegistered()
    except PhoneError as e:
        err.write("srst-phone: not registered: %s\n" % (e,))
        return None
    return phone


async def _hangUpAndUnregister(phone: SimulatedPhone, follower: CallFollower,
                               err: TextIO) -> int:
    """
    End every call on a registered phone, then unregister it.

    @return: C{EXIT_OK}, or C{EXIT_INCOMPLETE} once the reason it did not
        unregister is written to C{err}.
    """
    await _hangUpAll(phone, follower)
    try:
        await phone.unregister()
    except PhoneError as e:
        err.write("srst-phone: not unregistered: %s\n" % (e,))
        return EXIT_INCOMPLETE
    return EXIT_OK


class _Ending:
    """
    A one-phone flow's hang-up and unregister, run once by whichever comes
    first: the flow's own end or Ctrl-C's shutdown trigger.  Every caller
    waits for the same exit code; calling it starts it and waits.
    """

    def __init__(self, end: Callable[[], typing.Coroutine[Any, Any, int]]) -> None:
        self._end = end
        self._finished: OneShot[int] = OneShot()
        self.started = False

    def start(self) -> None:
        """Start the ending unless it has started."""
        if not self.started:
            self.started = True
            Deferred.fromCoroutine(self._end()).addCallback(self._finished.fire)

    def wait(self) -> Deferred[int]:
        """@return: the ending's exit code, now or later."""
        return self._finished.wait()

    def __call__(self) -> Deferred[int]:
        self.start()
        return self.wait()


async def _callFlow(reactor: ToolReactor, args: argparse.Namespace,
                    tls: Optional[_TLSFiles], out: TextIO, err: TextIO,
                    answering: bool, audio: _Audio) -> int:
    """
    One phone: register, press softkeys, make (or answer) one call, follow
    it, hang up and unregister (see L{srst.tools._phonecall}).
    """
    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    phone = await _registerOne(reactor, args, tls, err)
    if phone is None:
        return EXIT_INCOMPLETE
    say("registered %s, line %s" % (phone.deviceName, ", ".join(
        stat.lineDirNumber for _, stat in sorted(
            phone.settings.lineStats.items())) or "none"))
    # From here on every prompt counts, the idle prompt first.
    follower = CallFollower(phone, say)
    await follower.sync()
    PhoneMedia(phone, reactor=reactor,  # type: ignore[arg-type]
               interface=str(phone.protocol.localAddress()),
               source=audio.source, recording=audio.recording)

    async def hangUpAndUnregister() -> int:
        if phone.state is not PhoneState.REGISTERED:
            return EXIT_INCOMPLETE
        code = await _hangUpAndUnregister(phone, follower, err)
        if code == EXIT_OK:
            say("unregistered")
        return code

    finish = _Ending(hangUpAndUnregister)
    trigger = reactor.addSystemEventTrigger("before", "shutdown", finish)
    try:
        outcome = await _makeCall(reactor, args, phone, follower, say,
                                  answering, audio.source)
    except PhoneError as e:
        if finish.started:  # Ctrl-C: the phone unregistered, as asked
            return await finish()
        err.write("srst-phone: %s\n" % (e,))
        return EXIT_INCOMPLETE
    finally:
        reactor.removeSystemEventTrigger(trigger)
    code = await finish()
    if outcome is None:
        return code
    return _EXIT_FOR_OUTCOME[outcome] or code


async def _makeCall(reactor: ToolReactor, args: argparse.Namespace,
                    phone: SimulatedPhone, follower: CallFollower,
                    say: Callable[[str], None],
                    answering: bool,
                    source: Optional[FileSource] = None) -> Optional[Outcome]:
    """
    The call itself, from registered to ready to hang up: C{--hold}, the
    far end hanging up, or (without C{--hold}) C{source} played to its end.

    @return: the call's L{Outcome}, or L{None} when no call was made.
    @raise PhoneError: when the connection is lost.
    """
    forwarding = False
    for key in args.keys:
        key.press(phone, follower.reference if follower.inCall else 0)
        say("pressed %s" % (key.name,))
        await follower.sync()
        forwarding = key.forwardAll and follower.offHook
    if answering:
        say("waiting for a call")
        ref = await follower.whenRingingIn()
        phone.offHook(1, ref)
    elif args.number:
        # A key that gave dial tone (PickUp, CFwdAll) needs no OffHook.
        if not follower.offHook:
            phone.offHook()
        phone.pressKeys(args.number)
        if forwarding:
            # CFwdAll's input ends with #; the phone is back on hook.
            phone.pressKeys("#")
            await follower.sync()
            await _holdFor(reactor, args, phone.whenDisconnected())
            return None
    elif not follower.inCall:
        # Only keys (DND ...): stay registered for others to call.
        await _holdFor(reactor, args, phone.whenDisconnected())
        return None
    outcome: Outcome = await follower.whenOutcome()
    if outcome is not Outcome.CONNECTED:
        return outcome
    for name in args.connectedSoftKeys:
        phone.softKey(softKeyEvent(name), 1, follower.reference)
        say("pressed %s" % (name,))
        await follower.sync()
    if args.transferTo:
        failed = await _transfer(phone, follower, say, args.transferTo, args.blind)
        if failed is not None:
            outcome = failed
    elif args.conferenceWith:
        failed = await _conference(phone, follower, say, args.conferenceWith)
        if failed is not None:
            outcome = failed
    ended = follower.whenEnded()
    if source is not None and args.hold is None:
        which, _ = await race([ended, source.whenPlayed()])
        if which == 1:
            say("played %s" % (args.play,))
    else:
        await _holdFor(reactor, args, ended)
    return outcome


async def _transfer(phone: SimulatedPhone, follower: CallFollower,
                    say: Callable[[str], None], number: str,
                    blind: bool) -> Optional[Outcome]:
    """
    Transfer the connected call to C{number} as a person does: Trnsfer
    (the call goes on hold, dial tone on a new call), the digits, Trnsfer
    again once the target answers (consult) or rings (C{blind}).  A target
    that is busy or unknown: EndCall on the consultation call, and the
    router gives the held call back.

    @return: L{None} once transferred, or the failed consultation's
        L{Outcome} (busy, reorder).
    """
    transfer = SoftKeyEvent.TRANSFER
    phone.softKey(transfer, 1, follower.reference)
    say("pressed Trnsfer")
    await follower.sync()
    ready = follower.whenRingingOut() if blind else follower.whenConnected()
    ended = follower.whenEnded()
    failed = follower.whenFailed()
    phone.pressKeys(number, 1, follower.reference)
    # The router may complete the transfer itself (a blind transfer-system
    # or a single-channel DN): then the phone is back on hook.
    which, result = await race([ready, ended, failed])
    if which == 1:
        return None
    if which == 2:
        say("transfer to %s failed" % (number,))
        phone.softKey(SoftKeyEvent.END_CALL, 1, follower.reference)
        say("pressed EndCall")
        await follower.sync()
        return cast(Outcome, result)
    phone.softKey(transfer, 1, follower.reference)
    say("pressed Trnsfer")
    await follower.sync()
    return None


async def _conference(phone: SimulatedPhone, follower: CallFollower,
                      say: Callable[[str], None],
                      number: str) -> Optional[Outcome]:
    """
    Make a three-party conference of the connected call and C{number} as a
    person does: Confrn (the call goes on hold, dial tone on a new call),
    the digits, Confrn again once the third party answers.  No bridge free
    (the router shows its prompt and leaves the call as it was), or a third
    party that is busy or unknown (then EndCall on the consultation call,
    and the router gives the held call back): the conference failed.

    @return: L{None} once the three are joined, or the failure's
        L{Outcome} (busy, reorder).
    """
    confrn = SoftKeyEvent.CONFRN
    phone.softKey(confrn, 1, follower.reference)
    say("pressed Confrn")
    await follower.sync()
    if not follower.offHook:  # no dial tone: no conference bridge
        say("conference with %s failed" % (number,))
        return Outcome.REORDER
    connected = follower.whenConnected()
    failed = follower.whenFailed()
    phone.pressKeys(number, 1, follower.reference)
    which, result = await race([connected, failed])
    if which == 1:
        say("conference with %s failed" % (number,))
        phone.softKey(SoftKeyEvent.END_CALL, 1, follower.reference)
        say("pressed EndCall")
        await follower.sync()
        return cast(Outcome, result)
    phone.softKey(confrn, 1, follower.reference)
    say("pressed Confrn")
    await follower.sync()
    return None


async def _hangUpAll(phone: SimulatedPhone, follower: CallFollower) -> None:
    """
    Hang up every call the phone has: the current one on hook, then EndCall
    on each one left (a call on hold, or the one the router gave back when
    an abandoned consultation went on hook), so that the phone unregisters
    idle.  Bounded: a router that keeps a call up is left to refuse the
    unregistration.
    """
    if follower.inCall:
        phone.onHook(1, follower.reference)
        await follower.sync()
    for _ in range(3):
        if not follower.calls:
            return
        for reference in sorted(follower.calls):
            phone.softKey(SoftKeyEvent.END_CALL, 1, reference)
        await follower.sync()


async def _holdFor(reactor: ToolReactor, args: argparse.Namespace,
                   ended: Deferred[Any]) -> None:
    """
    Wait C{--hold} seconds, or until C{ended} fires (the call or the
    connection ended) or Ctrl-C (which unregisters the phone).
    """
    if args.hold is None:
        await ended
    else:
        await race([deferLater(reactor, args.hold), ended])


def _call(reactor: ToolReactor, args: argparse.Namespace, out: TextIO,
          err: TextIO, runInThread: RunInThread,
          answering: bool = False) -> Deferred[int]:
    try:
        tls = _loadTLS(args)
    except (CertificateFileError, LSCIssueError) as e:
        err.write("srst-phone: %s\n" % (e,))
        return succeed(EXIT_FILES)
    try:
        audio = _loadAudio(args)
    except WavError as e:
        err.write("srst-phone: %s\n" % (e,))
        return succeed(EXIT_FILES)
    calling = Deferred.fromCoroutine(_callFlow(reactor, args, tls, out, err,
                                               answering, audio))
    writer, recording = audio.writer, audio.recording
    if writer is None or recording is None:
        return calling

    def save(result: object) -> object:
        try:
            writer.commit(recording.samples)
        except WavError as e:
            err.write("srst-phone: %s\n" % (e,))
            return EXIT_FILES if result == EXIT_OK else result
        out.write("recorded %.2f s to %s\n" % (recording.duration, args.record))
        out.flush()
        return result
    return calling.addBoth(save)


def _answer(reactor: ToolReactor, args: argparse.Namespace, out: TextIO,
            err: TextIO, runInThread: RunInThread) -> Deferred[int]:
    return _call(reactor, args, out, err, runInThread, answering=True)


# -- run -----------------------------------------------------------------------


class _TerminalReactor(ToolReactor, typing.Protocol):
    """What C{run} needs besides L{ToolReactor}: standard input read."""

    def addReader(self, reader: IReadDescriptor) -> None:
        ...

    def removeReader(self, reader: IReadDescriptor) -> None:
        ...


async def _runFlow(reactor: _TerminalReactor, args: argparse.Namespace,
                   tls: Optional[_TLSFiles], out: TextIO, err: TextIO) -> int:
    """
    Register one phone, show it with C{curses} until q (or Ctrl-C), then
    hang up and unregister (see L{srst.tools._phonescreen}).  Ctrl-C's
    shutdown trigger waits for the hang-up and unregister, as C{call}'s
    does, so the reactor closes the connection only after them.
    """
    import curses

    phone = await _registerOne(reactor, args, tls, err)
    if phone is None:
        return EXIT_INCOMPLETE
    PhoneMedia(phone, reactor=reactor,  # type: ignore[arg-type]
               interface=str(phone.protocol.localAddress()))
    quitting: OneShot[None] = OneShot()
    window = curses.initscr()
    keys = KeyMap(curses.KEY_F1)

    def pressed(code: int) -> None:
        action = keys.press(code)
        if action is None:
            return
        if action.do is Do.QUIT:
            quitting.fire(None)
            return
        try:
            screen.act(action)
        except PhoneError as e:
            screen.events.append(str(e))

    terminal = Terminal(curses, window, lambda: screen.lines(), pressed)
    screen = PhoneScreen(phone, terminal.draw, secure=tls is not None)
    async def hangUpAndUnregister() -> int:
        reactor.removeReader(terminal)
        terminal.close()
        if phone.state is not PhoneState.REGISTERED:
            err.write("srst-phone: connection lost\n")
            return EXIT_INCOMPLETE
        code = await _hangUpAndUnregister(phone, screen.follower, err)
        if code == EXIT_OK:
            out.write("unregistered %s\n" % (phone.deviceName,))
            out.flush()
        return code

    ending = _Ending(hangUpAndUnregister)

    def finish() -> Deferred[int]:
        # q, the connection ending, or Ctrl-C (before the reactor closes
        # the connection, which waits for the Deferred returned here).
        ending.start()
        quitting.fire(None)
        return ending.wait()

    trigger = reactor.addSystemEventTrigger("before", "shutdown", finish)
    reactor.addReader(terminal)
    try:
        terminal.draw()
        await race([quitting.wait(), phone.whenDisconnected()])
    finally:
        if not ending.started:  # Ctrl-C's trigger has fired: nothing to remove
            reactor.removeSystemEventTrigger(trigger)
    return await finish()


def _run(reactor: ToolReactor, args: argparse.Namespace, out: TextIO,
         err: TextIO, runInThread: RunInThread) -> Deferred[int]:
    if not (os.isatty(0) and os.isatty(1)):
        # curses needs both; say so before the phone registers.
        err.write("srst-phone: run needs a terminal on standard input and"
                  " output (use call or answer from scripts)\n")
        return succeed(EXIT_USAGE)
    try:
        tls = _loadTLS(args)
    except (CertificateFileError, LSCIssueError) as e:
        err.write("srst-phone: %s\n" % (e,))
        return succeed(EXIT_FILES)
    return Deferred.fromCoroutine(_runFlow(cast(_TerminalReactor, reactor), args, tls, out, err))


# -- entry points --------------------------------------------------------------


def run(reactor: ToolReactor, argv: Sequence[str], out: TextIO, err: TextIO,
        runInThread: RunInThread) -> Deferred[int]:
    """
    Run one C{srst-phone} command on a running reactor.

    @param reactor: TCP, the clock and the Ctrl-C shutdown trigger
        (L{ToolReactor}).
    @param argv: the arguments, without the program name.
    @param out: where results go.
    @param err: where errors go.
    @param runInThread: C{runInThread(f, *args) -> Deferred}, for key
        generation.
    @return: a L{Deferred} firing with the exit code.
    @raise SystemExit: on a usage error (from C{argparse}, code 2).
    """
    args = makeParser().parse_args(list(argv))
    return args.func(reactor, args, out, err, runInThread)


def _main(reactor: _MainReactor, argv: Sequence[str]) -> Deferred[None]:
    from twisted.internet.threads import deferToThreadPool
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
        textFileLogObserver,
    )

    globalLogBeginner.beginLoggingTo([FilteringLogObserver(
        textFileLogObserver(sys.stderr),
        [LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)])],
        redirectStandardIO=False)

    def runInThread(f: Callable[..., object], *a: object) -> Deferred[Any]:
        return deferToThreadPool(reactor, reactor.getThreadPool(), f, *a)

    d = run(reactor, argv, sys.stdout, sys.stderr, runInThread)

    def exit(code: int) -> None:
        if code:
            raise SystemExit(code)

    return d.addCallback(exit)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """
    The C{srst-phone} console script.

    @param argv: the arguments without the program name; C{sys.argv[1:]}
        when L{None}.
    """
    from twisted.internet.task import react

    arguments = list(sys.argv[1:] if argv is None else argv)
    makeParser().parse_args(arguments)  # usage errors exit 2 before the reactor runs
    react(_main, (arguments,))


__all__ = [
    "EXIT_BUSY", "EXIT_FILES", "EXIT_INCOMPLETE", "EXIT_OK", "EXIT_REORDER",
    "EXIT_USAGE", "LoadGenerator",
    "LoadResult", "PhoneConfig", "PhoneDisconnected", "PhoneError",
    "PhoneProtocol", "PhoneState", "RegistrationRejected",
    "RegistrationTimedOut", "SimulatedPhone", "ToolReactor",
    "UnregisterRefused", "UnregisterTimedOut", "clientTLSOptions",
    "connectPhone",
    "deviceTypeForModel", "makeParser", "main", "percentile", "run",
]

if __name__ == "__main__":
    main()
