"""Tools some laptops cannot install, and what a lesson shows without them.

``pyproject.toml`` leaves a tool out of the install where it cannot install (an environment
marker): sslyze needs nassl 5.4, which publishes neither a wheel nor a source release for macOS
on Intel. A cell or a test that uses such a tool asks ``available(name)`` first and, when the
tool is absent, prints ``absence(name)``: that the tool is missing, why, and what it would have
shown. Never a failed install, never a traceback.

    from lessons import optional
    if optional.available("sslyze"):
        ...  # run the scan
    else:
        print(optional.absence("sslyze"))
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class OptionalTool:
    name: str
    module: str  # what ``import`` or ``python -m`` names
    used_in: str
    absent_on: str  # the platforms whose install leaves it out
    why: str
    would_show: str


TOOLS: dict[str, OptionalTool] = {
    "sslyze": OptionalTool(
        name="sslyze", module="sslyze",
        used_in="lesson 04, the scan against Mozilla's intermediate profile",
        absent_on="macOS on Intel",
        why="sslyze 6.3 needs nassl 5.4, which publishes no wheel and no source release for "
            "that platform, so requirements.txt leaves sslyze out there",
        would_show="the hardened server 'OK - Compliant.'; the server with Python's default "
                   "context 'FAILED - Not compliant.', because it accepts CBC cipher suites "
                   "and the secp521r1 and X448 key-exchange curves",
    ),
}


def available(name: str) -> bool:
    """Is the optional tool ``name`` installed in this environment?"""
    tool = TOOLS.get(name)
    return importlib.util.find_spec(tool.module if tool else name) is not None


def absence(name: str) -> str:
    """What a cell prints instead of running the tool: that it is absent, why, and what it
    would have shown."""
    tool = TOOLS[name]
    return (f"{tool.name} is not installed here, so this step is skipped. On {tool.absent_on} "
            f"that is expected: {tool.why}. Elsewhere, run `pip install -r requirements.txt` "
            f"again. Used for: {tool.used_in}. It would have shown: {tool.would_show}.")
