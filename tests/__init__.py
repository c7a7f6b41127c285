"""
srst trial tests.

Property tests (hypothesis) run derandomized: the suite tries the same
examples on every run and machine, so CI is reproducible. Set
C{SRST_HYPOTHESIS_EXPLORE=1} to let hypothesis draw new random examples
(worth doing after changing a codec); a failure it finds belongs in the
test as an C{@example}.
"""

import os

from hypothesis import settings

settings.register_profile("srst", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("SRST_HYPOTHESIS_EXPLORE") == "1" else "srst")
