"""
Control-plane policing (IOS CoPP, seed "Configuration 2") as Twisted
wrappers: the only place in srst that knows about access lists and token
buckets (style.md section 2.9).

The modules:

  - L{srst.policing.config}: the C{access-lists:} and C{control-plane:}
    sections of router.yaml and their values (L{AccessListEntry},
    L{AccessList}, L{ClassMap}, L{Police}, L{PolicyClass},
    L{ControlPlanePolicy}) with the IOS matching rules;
  - L{srst.policing.addressing}: what an access list compares, from what a
    listener knows (the peer's source address, the destination port);
  - L{srst.policing.meter}: L{TokenBucket}, sans-IO, and L{ControlPlane}, the
    aggregate runtime (one bucket and one set of counters per class) shared
    by every listener;
  - L{srst.policing.stream}: L{PolicingFactory} / L{PolicingProtocol} for
    TCP listeners;
  - L{srst.policing.datagram}: L{PolicingDatagramProtocol} for UDP ones;
  - L{srst.policing.commands}: C{show policy-map control-plane}.

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
C{srst.policing} namespace with fields, through the control plane's
L{srst.lograte.LogLimiter}: the first per class and kind at once, the
repeats summed up when the minute is over.
"""
