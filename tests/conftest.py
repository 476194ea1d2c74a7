"""Suite-wide settings.

Hypothesis runs derandomized under CI (``CI`` set, as ``.ci/run`` is called):
a CI verdict must not depend on which random examples one run happened to
draw.  Locally it explores new examples on every run, which is where new
failures should be found; a failure it finds gets a pinned regression test.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
