# -*- test-case-name: tests.test_policing -*-
"""
Control-plane policing (IOS CoPP, seed "Configuration 2") as Twisted
wrappers: the only place in srst that knows about access lists and token
buckets (style.md section 2.9).

The pieces:

  - the configuration values (L{AccessListEntry}, L{AccessList},
    L{ClassMap}, L{Police}, L{PolicyClass}, L{ControlPlanePolicy}), built by
    C{srst.config};
  - L{TokenBucket}, sans-IO, and L{ControlPlane}, the aggregate runtime (one
    bucket and one set of counters per class) shared by every listener;
  - L{PolicingFactory} / L{PolicingProtocol} for TCP listeners and
    L{PolicingDatagramProtocol} for UDP ones;
  - L{registerPolicingCommands} for C{show policy-map control-plane}.

The wrapper sits I{outside} TLS, on a plain TCP listener::

    PolicingFactory(TLSMemoryBIOFactory(options, False, appFactory),
                    controlPlane, reactor, localPort=2445)

so a connection is classified before any handshake work and handshake bytes
count against the bucket, while the application still sees an
C{ISSLTransport}.

How IOS actions map onto a stream (a TCP byte stream cannot lose bytes in
the middle without desynchronising TLS and SCCP framing):

  - A new connection in a policed class counts as one packet of
    L{CONNECTION_ATTEMPT_BYTES}; if its action is C{drop} the connection is
    refused (C{buildProtocol} returns C{None} and the reactor closes the
    socket) and the wrapped factory is never asked.
  - Each read on an accepted connection of a policed class is metered as
    packets of at most L{SEGMENT_BYTES}:
      - C{transmit}: delivered;
      - C{exceed-action drop}: the read is delivered, its exceeding bytes are
        charged to the bucket anyway (it goes into debt), and the transport
        is paused until the bucket recovers, from a C{clock.callLater}.
        Throughput converges to the police rate; nothing is buffered beyond
        the one read the reactor already made;
      - C{conform-action drop}: the connection is aborted.
    One read (up to 64 kB from a real TCP transport) can therefore pass
    before the pause; while the class is in debt, new connections exceed
    and are refused by C{exceed-action drop}.
  - A datagram (UDP) is simply dropped when its action says C{drop}.
  - Class-default traffic is counted (C{show}) but never metered or held.

Warnings (refused, aborted, throttled, dropped) are logged in the
C{srst.policing} namespace with fields, at most once a second per class and
kind, each carrying how many like events it stands for (C{suppressed}).

The code lives in private modules: C{_policing_types} (values and ACL
rules), C{_policing_meter} (buckets, counters, L{ControlPlane}),
C{_policing_stream}, C{_policing_datagram} and C{_policing_render}.
"""

from __future__ import annotations

from srst._policing_datagram import PolicingDatagramProtocol
from srst._policing_meter import (
    CONNECTION_ATTEMPT_BYTES,
    LOAD_INTERVAL,
    LOG_NAMESPACE,
    SEGMENT_BYTES,
    Admission,
    ClassStats,
    ControlPlane,
    PoliceStats,
    PolicyStats,
    RateMeter,
    TokenBucket,
    Verdict,
)
from srst._policing_render import registerPolicingCommands, renderPolicyMap
from srst._policing_stream import PolicingFactory, PolicingProtocol
from srst._policing_types import (
    CLASS_DEFAULT,
    AccessList,
    AccessListEntry,
    AclAction,
    ClassMap,
    ControlPlanePolicy,
    IPProtocol,
    LocalPort,
    MatchType,
    Police,
    PoliceAction,
    PolicyClass,
    sourceAddressOf,
    toAddress,
)

__all__ = [
    "CLASS_DEFAULT",
    "CONNECTION_ATTEMPT_BYTES",
    "LOAD_INTERVAL",
    "LOG_NAMESPACE",
    "SEGMENT_BYTES",
    "AccessList",
    "AccessListEntry",
    "AclAction",
    "Admission",
    "ClassMap",
    "ClassStats",
    "ControlPlane",
    "ControlPlanePolicy",
    "IPProtocol",
    "LocalPort",
    "MatchType",
    "Police",
    "PoliceAction",
    "PoliceStats",
    "PolicingDatagramProtocol",
    "PolicingFactory",
    "PolicingProtocol",
    "PolicyClass",
    "PolicyStats",
    "RateMeter",
    "TokenBucket",
    "Verdict",
    "registerPolicingCommands",
    "renderPolicyMap",
    "sourceAddressOf",
    "toAddress",
]
