"""
Shared set-up of the real-socket call tests: a router whose phone
trustpoints include the test CAPF (so LSCs from L{PHONE_CA} are accepted),
and simulated phones registered to it over mutual TLS or clear text.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks

from srst.tools._phoneclient import SimulatedPhone
from srst.tools._phonemedia import PhoneMedia
from srst.tools._phonetypes import PhoneConfig
from srst.tools._phonewire import clientTLSOptions, connectPhone
from srst.tools.lsc import issueLSC
from tests.pkihelpers import writePem
from tests.routerhelpers import routerYaml
from tests.test_sccp_integration import PHONE_CA, now


def routerYamlWithCapf(stateDir: str, extra: str) -> str:
    """
    @return: L{routerYaml} with C{extra}, plus a C{capf} phone trustpoint
        holding L{PHONE_CA} (written into C{stateDir}).
    """
    capf = writePem(stateDir, "capf.pem", PHONE_CA.certificate)
    return routerYaml(stateDir, extra=extra).replace(
        '"7970": {certificates:', f'capf: {{certificates: [{capf}]}}\n    "7970": {{certificates:')


@inlineCallbacks
def registeredPhone(testCase: Any, service: Any, mac: str, tls: bool = True, media: bool = True) -> Any:
    """
    Register a simulated phone with C{service} (stopped after the test).

    @param testCase: the test, for clean-ups.
    @param service: the running L{srst.service.RouterService}.
    @param mac: the phone's MAC (12 hex digits).
    @param tls: register on the secure port with an LSC from L{PHONE_CA},
        else on the clear-text port.
    @param media: give the phone a L{PhoneMedia} (real RTP/SRTP).
    @return: a L{Deferred} firing with C{(phone, dn)} once registered.
    """
    phone = SimulatedPhone(PhoneConfig(mac=mac), clock=reactor)
    if media:
        testCase.addCleanup(PhoneMedia(phone, reactor=reactor).stop)
    ports = service.ports()
    if tls:
        lsc = issueLSC(PHONE_CA.certificate, PHONE_CA.key, mac, now=now)
        caCertificate = service.certificateServer.caCertificate
        options = clientTLSOptions("127.0.0.1", [caCertificate], lsc.certificate, lsc.privateKey)
        connectPhone(reactor, phone, "127.0.0.1", ports["sccp-secure"], tlsOptions=options)
    else:
        connectPhone(reactor, phone, "127.0.0.1", ports["sccp"])
    testCase.addCleanup(phone.stop)
    yield phone.whenRegistered()
    return phone, service.registry.byMac(mac).lines[0].assignment.dn
