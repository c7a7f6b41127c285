"""
twistd plugin for srst: C{twistd -n --pidfile= srst --config etc/router.yaml}.

This module stays trivial (style.md section 2.2): discovery imports it on every
twistd start, and an installed copy may shadow a checkout's copy.
"""

from zope.interface import implementer

from twisted.application.service import IServiceMaker
from twisted.plugin import IPlugin


@implementer(IServiceMaker, IPlugin)
class SRSTServiceMaker:
    tapname = "srst"
    description = "Secure SRST: credentials, secure SCCP, MGCP fallback, RTP/SRTP"

    @property
    def options(self):
        from srst.service import Options

        return Options

    def makeService(self, options):
        import atexit

        from twisted.internet import reactor  # the only global-reactor import in srst

        from srst.service import ExitOnStartupError, ReloadOnHangup, exitOnFailedStart, makeService

        service = ExitOnStartupError(makeService(options.routerConfig, reactor))
        ReloadOnHangup(service.router, reactor).setServiceParent(service)  # SIGHUP: configure reload
        atexit.register(exitOnFailedStart, service)  # a late start-up failure exits 1, not 0
        return service


serviceMaker = SRSTServiceMaker()
