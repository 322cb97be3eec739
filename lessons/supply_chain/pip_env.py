"""How the lesson runs pip: as it runs on a learner's laptop, never in this environment.

This machine, like many company laptops, may carry a machine-wide pip configuration (extra
indexes, local wheel folders). A run of the lesson ignores it, so that what it shows is what
pip does with the lesson's own arguments; the CA bundle setting is kept, so that HTTPS to the
index still works behind a company proxy.
"""

from __future__ import annotations

import os


def pip_environment(offline: bool = False) -> dict[str, str]:
    """The environment for a pip run of the lesson: no ``PIP_*`` setting but the CA bundle,
    no configuration file, no version check; ``offline`` adds ``PIP_NO_INDEX``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if offline:
        env["PIP_NO_INDEX"] = "1"
    return env
