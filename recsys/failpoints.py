"""Named points where a test can kill this process, to prove that a crash anywhere converges.

`RECSYS_FAILPOINT=<name>` makes the process kill itself with SIGKILL (no clean-up, no
`finally`, exactly like a power cut or `kill -9`) when it reaches that point. Unset
(always, outside tests), `reached` does nothing. The points, in the order a retrain
passes them: `trained`, `saved` (checkpoint and evaluation written), `indexing` (half
the new index loaded), `swapped` (the new version is live, the old one not yet
dropped), `cleanup` (while removing what is not live). See tests/integration/test_crash.py.
"""

from __future__ import annotations

import os
import signal

ENV = "RECSYS_FAILPOINT"
POINTS = ("trained", "saved", "indexing", "swapped", "cleanup")


def reached(name: str) -> None:
    """Kill this process now if the environment asks for it at `name`."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
