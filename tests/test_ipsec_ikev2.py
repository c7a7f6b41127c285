"""
C{crypto.ike-version: 2}: the seed's crypto map negotiated with IKEv2
between two charons in two network namespaces (see
L{tests.test_ipsec_acceptance}), CallManager's charon loaded with version 2
only, so that an IKEv1 offer could not come up.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import TestCase

from tests.ipsechelpers import (
    CALLMANAGER_ADDRESS,
    ROUTER_ADDRESS,
    childEstablished,
    ikeConnection,
    listSas,
    makeNamespaces,
    requireIpsec,
    startCharon,
)
from tests.routerhelpers import bounded
from tests.test_ipsec_acceptance import CRYPTO, isakmpRow, startRouter
import tests.test_ipsec_acceptance as acceptance


class IkeV2Tests(TestCase):
    def setUp(self) -> None:
        requireIpsec()

    @bounded(timeout=15)
    async def test_ikeVersion2(self) -> None:
        """
        srst loads the entry with version 2: the IKE SA is IKEv2, the IPsec
        SA is installed, and C{show crypto isakmp sa} has its row
        (C{--json}: C{"version": 2}).
        """
        pair = await makeNamespaces(self)
        charon = await startCharon(self, pair.router)
        ccm = await startCharon(self, pair.callManager)
        connection = ikeConnection(CALLMANAGER_ADDRESS, ROUTER_ADDRESS)
        connection["cm"]["version"] = "2"

        def load(session: Any) -> None:
            session.load_conn(connection)
            session.load_shared({"id": "cm-psk", "type": "IKE", "data": "cisco123",
                                 "owners": [CALLMANAGER_ADDRESS, ROUTER_ADDRESS]})

        await ccm.call(load)
        ikev2 = CRYPTO.replace("  vici-socket: {socket}\n", "  vici-socket: {socket}\n  ike-version: 2\n", 1)
        self.assertNotEqual(ikev2, CRYPTO)
        self.patch(acceptance, "CRYPTO", ikev2)
        router = await startRouter(self, pair, charon)
        await charon.process.waitForMatch(childEstablished("rtp-1"))

        sa = (await listSas(charon))["rtp-1"]
        self.assertEqual((sa["version"], sa["state"]), ("2", "ESTABLISHED"))
        [child] = sa["child-sas"].values()
        self.assertEqual(child["state"], "INSTALLED")
        [row] = isakmpRow(await router.show("crypto", "isakmp", "sa"))
        self.assertEqual(row, [CALLMANAGER_ADDRESS, ROUTER_ADDRESS, "QM_IDLE", "1", "ACTIVE"])
        [data] = (await router.data("crypto", "isakmp", "sa"))["sas"]
        self.assertEqual((data["dst"], data["state"], data["version"]), (CALLMANAGER_ADDRESS, "QM_IDLE", 2))
