"""Named fault points: let a test kill the process at an exact step of a write.

Results folders promise to be all-or-nothing whenever the process dies; a test proves
it by running the command in a subprocess with ``V2X_SIM_TEST_KILL_AT`` naming a step
(``write:links.csv``, ``swap:exchanged``, ...): at that step the process sends itself
SIGKILL, which nothing can catch or clean up after. Unset (always, outside tests), a
fault point is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

KILL_AT_ENV = "V2X_SIM_TEST_KILL_AT"


def fault_point(name: str) -> None:
    """Die here, at once and uncleanly, if the test hook names this step."""
    wanted = os.environ.get(KILL_AT_ENV)
    if wanted is not None and wanted == name:
        os.kill(os.getpid(), signal.SIGKILL)
